-- `vmlab trace --via lackey -- cmd`: valgrind's lackey stream collapsed to
-- pages (vmlab's own tool, the default where built, is tests/trace/vgtool.t).
local tap = require "vmlab.tap"
local trace = require "vmlab.trace"
local vm = os.getenv("VMLAB") or "build/vmlab"
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)

if not os.execute("valgrind --version >/dev/null 2>&1") then tap.skip_all("valgrind is not installed") end

local r = trace.lackey { command = { "/bin/true" }, output = dir .. "/t.trace", via = "lackey" }
tap.ok(r, "lackey ran /bin/true")
tap.is(r.exit, 0, "exit status 0")
tap.cmp_ok(r.references, ">", 10000, r.references .. " references")
tap.cmp_ok(r.events, "<", r.references, r.events .. " page events (consecutive references to a page collapse)")
local n, writes, prev, same = 0, 0, nil, 0
for e in trace.events(dir .. "/t.trace") do
  n = n + 1
  if e.kind == "write" then writes = writes + 1 end
  if prev and prev.page == e.page and prev.kind == e.kind then same = same + 1 end
  prev = e
end
tap.is(n, r.events, "every event in the file")
tap.cmp_ok(writes, ">", 0, "stores are writes")
tap.is(same, 0, "no two consecutive events repeat a page and kind")
tap.is(trace.header(dir .. "/t.trace").time_unit_ns, 0, "virtual time")
tap.is(r.via, "lackey", "the lackey path ran")
tap.is(trace.header(dir .. "/t.trace").targets[1].name, "valgrind:lackey", "and the file says so")

local f = trace.lackey { command = { "sh", "-c", "exit 3" }, output = dir .. "/u.trace", via = "lackey" }
tap.is(f.exit, 3, "the command's exit status is kept")
local ni = trace.lackey { command = { "/bin/true" }, instructions = false, via = "lackey" }
tap.cmp_ok(ni.references, "<", r.references, "without instruction fetches: fewer references")
local loop = trace.lackey { command = { "sh", "-c", "while :; do :; done" }, output = dir .. "/l.trace", timeout = "2s",
  via = "lackey" }
tap.ok(loop.timed_out, "a timeout stops the command")
tap.is(loop.signal, 9, "killed")
local k = 0
for _ in trace.events(dir .. "/l.trace") do k = k + 1 end
tap.ok(k > 0 and k == loop.events, "and the trace so far is complete: " .. k .. " events")
tap.error_like(function() trace.lackey { command = {} } end, "command must be", "an empty command")

local _, _, code = os.execute(vm .. " trace --via lackey -o " .. dir .. "/c.trace -- sh -c 'exit 5' 2>/dev/null")
tap.is(code, 5, "vmlab trace exits with the command's status")
local p = io.popen(vm .. " trace simulate -i " .. dir .. "/c.trace --policy lru --frames 8 --format tsv")
tap.like(p:read("a"), "\nlru\t8\t%d+\t%d+\t", "and the trace simulates")
p:close()
os.execute("rm -rf " .. dir)
tap.done_testing()
