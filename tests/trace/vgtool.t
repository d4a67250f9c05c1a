-- `vmlab trace -- cmd` through vmlab's own valgrind tool (vgtool/): the
-- same trace as the lackey path, fork/exec and death, the choice of path.
local tap = require "vmlab.tap"
local trace = require "vmlab.trace"
local vm = os.getenv("VMLAB") or "build/vmlab"
local build = os.getenv("VMLAB_BUILD") or "build"
local walk = build .. "/tests/trace/walk"
local tooldir = build .. "/valgrind"
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)

if not os.execute("valgrind --version >/dev/null 2>&1") then tap.skip_all("valgrind is not installed") end
if not os.execute("test -x " .. tooldir .. "/vmlab-amd64-linux") then
  tap.skip_all("vmlab's valgrind tool is not built (valgrind's development files or amd64 missing)")
end

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end
local function events(path)
  local t = {}
  for e in trace.events(path) do t[#t + 1] = e end
  return t
end

-- The two paths on the same command.  valgrind puts its preload library's
-- path (VALGRIND_LIB) into the command's environment, which the command's
-- start-up walks: both runs get the tool's directory there, so that they
-- run the same instructions.
local env = "VALGRIND_LIB=" .. tooldir .. " VMLAB_VGTOOL=" .. tooldir .. " "
local function both(args, extra)
  local out = {}
  for _, via in ipairs { "lackey", "vmlab" } do
    local o, code = sh(env .. vm .. " trace --via " .. via .. " " .. (extra or "") .. " -o " .. dir .. "/" .. via ..
      ".trace -- " .. args .. " 2>" .. dir .. "/" .. via .. ".err")
    out[via] = { stdout = o, code = code, ev = events(dir .. "/" .. via .. ".trace"),
      err = io.open(dir .. "/" .. via .. ".err"):read("a") }
  end
  return out.lackey, out.vmlab
end

-- The events off the command's initial stack.  valgrind builds that stack
-- (arguments, environment, auxiliary vector) at a fixed top, but where
-- its strings cross a page boundary moved between two runs under CI's
-- make asan (pages 1ffeffe and 1ffefff swapped in ld.so's walk over the
-- environment): the references are the same, their pages are not.  The
-- stack's top page is the first written one (the first push).
local function off_stack(ev)
  local top
  for _, e in ipairs(ev) do if e.kind == "write" then top = e.page; break end end
  local t = {}
  for _, e in ipairs(ev) do
    if not top or e.page > top or e.page < top - 16 then t[#t + 1] = e end
  end
  return t
end
local function differ(a, b)
  for i = 1, math.max(#a, #b) do
    local x, y = a[i], b[i]
    if not x or not y or x.time ~= y.time or x.page ~= y.page or x.kind ~= y.kind then return i end
  end
end
local function show(e) return e and string.format("%d %x %s", e.time, e.page, e.kind) or "-" end
local function same(a, b, what)
  a, b = off_stack(a), off_stack(b)
  local first = differ(a, b)
  tap.ok(#a > 1000 and not first, what .. ": " .. #a .. " and " .. #b .. " events" ..
    (first and (", first difference at event " .. first) or ", equal in time, page and kind off the initial stack"))
  if first then -- what differs, for the log
    for i = math.max(1, first - 3), first + 3 do tap.diag(i .. ": " .. show(a[i]) .. " | " .. show(b[i])) end
  end
end

-- Two runs of the command: if they differ off the initial stack too, the
-- difference is printed and one more pair is taken; a tool that differs
-- from lackey fails both.
local function pair(args, extra)
  local L, V = both(args, extra)
  local a, b = off_stack(L.ev), off_stack(V.ev)
  local first = differ(a, b)
  if first then
    for i = math.max(1, first - 3), first + 3 do
      tap.diag("first pair, " .. i .. ": " .. show(a[i]) .. " | " .. show(b[i]))
    end
    L, V = both(args, extra)
  end
  return L, V
end

local L, V = pair(walk .. " walk")
tap.is(L.code, 0, "lackey path: exit 0")
tap.is(V.code, 0, "vmlab tool path: exit 0")
same(L.ev, V.ev, "the walk's trace, lackey and vmlab's tool")
tap.like(L.err, "references, (%d+) page events .*valgrind lackey", "lackey path says so")
tap.like(V.err, "valgrind %-%-tool=vmlab", "the tool path says so")
tap.is(L.err:match("(%d+) references"), V.err:match("(%d+) references"), "the same number of references")
tap.is(trace.header(dir .. "/vmlab.trace").targets[1].name, "valgrind:vmlab", "the file names the tool path")
tap.is(trace.header(dir .. "/lackey.trace").targets[1].name, "valgrind:lackey", "the file names the lackey path")

-- what the walk did, in the tool's trace: 16 stores, then 3 rounds of a
-- read of even pages and a read-modify-write (one reference: a read and a
-- write at one time) of odd ones
local base = math.tointeger(tonumber(V.stdout))
local seen, modify = {}, 0
for i, e in ipairs(V.ev) do
  local k = e.page - base
  if k >= 0 and k < 16 then
    seen[#seen + 1] = (e.kind == "write" and "W" or "R") .. k
    local n = V.ev[i + 1]
    if e.kind == "read" and k % 2 == 1 and n and n.page == e.page and n.kind == "write" and n.time == e.time then
      modify = modify + 1
    end
  end
end
local want = {}
for k = 0, 15 do want[#want + 1] = "W" .. k end
for _ = 1, 3 do for k = 0, 15, 2 do want[#want + 1] = "R" .. k; want[#want + 1] = "R" .. k + 1; want[#want + 1] = "W" .. k + 1 end end
tap.is(table.concat(seen, " "), table.concat(want, " "), "the walk's pages and kinds, in order")
tap.is(modify, 24, "each read-modify-write is a read and a write at one reference")
local tid = V.ev[1].tid
local one = true
for _, e in ipairs(V.ev) do one = one and e.tid == tid end
tap.ok(one and tid > 0, "one process: one tid, the command's pid")

-- without instruction fetches
L, V = pair(walk .. " walk", "--no-instr")
same(L.ev, V.ev, "without instruction fetches")

-- a fork and an exec: the child's pages (its own tid) and the parent's
-- before the exec reach the trace
local out, code = sh(vm .. " trace -o " .. dir .. "/f.trace -- " .. walk .. " fork 2>/dev/null")
tap.is(code, 0, "fork: exit 0 (the exec'ed /bin/true's)")
base = math.tointeger(tonumber(out))
local by = {}
local ev = events(dir .. "/f.trace")
local last = -1
local ordered = true
for _, e in ipairs(ev) do
  local k = e.page - base
  if k >= 0 and k < 12 and e.kind == "write" then by[k] = e.tid end
  ordered = ordered and e.time >= last
  last = e.time
end
tap.ok(by[0] and by[3] and by[8] and by[11] and by[0] == by[11], "the parent's stores before and after the fork")
tap.ok(by[4] and by[7] and by[4] ~= by[0], "the child's stores, with the child's pid as tid")
tap.ok(ordered, "times never go back across the two processes' records")

-- death: by a signal (valgrind's exit code then runs: all is sent) and by
-- SIGKILL (what was collected went out before the kill system call)
out, code = sh(vm .. " trace -o " .. dir .. "/s.trace -- " .. walk .. " segv 2>/dev/null")
tap.is(code, 128 + 11, "SIGSEGV: vmlab trace exits as the command did")
base = math.tointeger(tonumber(out))
local function stores(path)
  local n = 0
  for e in trace.events(path) do
    if e.kind == "write" and e.page >= base and e.page < base + 4 then n = n + 1 end
  end
  return n
end
tap.is(stores(dir .. "/s.trace"), 4, "its four stores are in the trace")
out, code = sh(vm .. " trace -o " .. dir .. "/k.trace -- " .. walk .. " kill 2>/dev/null")
tap.is(code, 128 + 9, "SIGKILL")
base = math.tointeger(tonumber(out))
tap.is(stores(dir .. "/k.trace"), 4, "its four stores are in the trace")
-- killed at the timeout while it spins: what it did before its last
-- system call is in the trace
out = sh(vm .. " trace --timeout 3s -o " .. dir .. "/l.trace -- " .. walk .. " spin 2>" .. dir .. "/l.err")
base = math.tointeger(tonumber(out))
tap.like(io.open(dir .. "/l.err"):read("a"), "spinning.*stopped at the timeout", "a timeout kills the command under the tool")
tap.is(stores(dir .. "/l.trace"), 4, "and its four stores are in the trace")

-- the choice of path, and what is said when the tool is missing or broken
local r = trace.lackey { command = { "/bin/true" } }
tap.is(r.via, "vmlab", "by default the tool")
tap.is(trace.lackey { command = { "/bin/true" }, via = "lackey" }.via, "lackey", "via = \"lackey\"")
tap.error_like(function() trace.lackey { command = { "/bin/true" }, via = "cachegrind" } end, "via must be",
  "an unknown path")
local err
out, code = sh("VMLAB_VGTOOL=" .. dir .. "/none " .. vm .. " trace --via vmlab -o " .. dir .. "/x.trace -- /bin/true 2>&1")
tap.is(code, 2, "--via vmlab without the tool: exit 2")
tap.like(out, "VMLAB_VGTOOL=.*no executable vmlab%-amd64%-linux", "and the message says where it looked")
os.execute("mkdir -p " .. dir .. "/broken && printf '#!/bin/sh\\necho broken tool >&2; exit 1\\n' > " .. dir ..
  "/broken/vmlab-amd64-linux && chmod +x " .. dir .. "/broken/vmlab-amd64-linux")
out, code = sh("VMLAB_VGTOOL=" .. dir .. "/broken " .. vm .. " trace --via vmlab -o " .. dir .. "/x.trace -- " ..
  walk .. " walk 2>&1")
tap.is(code, 2, "a tool valgrind does not start: exit 2")
tap.like(out, "valgrind did not start vmlab's tool from .*broken", "and the message says so")
tap.unlike(out, "^%d+\n", "the command did not run")
out, code = sh("VMLAB_VGTOOL=" .. dir .. "/broken " .. vm .. " trace -o " .. dir .. "/x.trace -- /bin/true 2>&1")
tap.is(code, 0, "by default, lackey instead")
tap.like(out, "lackey instead.*valgrind lackey", "saying why")
tap.is(trace.header(dir .. "/x.trace").targets[1].name, "valgrind:lackey", "and the file says lackey")
os.execute("rm -rf " .. dir)
tap.done_testing()
