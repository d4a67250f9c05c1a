-- Memory held across calls that can raise is owned by Lua: 100 bad calls
-- (and some good ones) to each allocating function of vmlab.seg,
-- vmlab.proc, vmlab.numa and vmlab.workload lose nothing.  The calls run
-- in a separate vmlab, under valgrind's memcheck in a normal build and
-- under LeakSanitizer in `make asan` (where valgrind cannot run).
local t = require "vmlab.tap"
local vmlab = require "vmlab"
local exe = os.getenv("VMLAB") or "build/vmlab"
local sanitized = vmlab.sanitized
if not sanitized then t.requires { program = "valgrind" } end

local script = os.tmpname()
local path = os.tmpname()
local f = assert(io.open(script, "w"))
f:write(([[
local seg = require "vmlab.seg"
local proc = require "vmlab.proc"
local numa = require "vmlab.numa"
local workload = require "vmlab.workload"
local N = 100
local function bad(fn, ...) assert(not pcall(fn, ...), "a bad call passed") end
local s = seg.anon("leak", "64k")
s:touch()
local path = %q
for i = 1, N do
  -- vmlab.seg: definitions, maps, queries with scratch arrays
  bad(seg.anon, "leak", "4k")                        -- exists
  bad(seg.anon, "x" .. i, "4k", { hugee = true })    -- unknown option
  bad(seg.anon, "a\0b", "4k")                        -- NUL in the name
  bad(seg.file, path, { offset = 100 })              -- unaligned
  assert(seg.file(path, { offset = "1m" }) == nil)   -- past EOF: nil, msg
  bad(seg.wrap, "w" .. i, 4096, 4096)                -- nothing mapped
  bad(s.resident, s, { length = "1g" })
  bad(s.pages, s, { pgaes = true })
  bad(s.move, s, 2 ^ 40)
  bad(s.where, s, { offset = 1 })
  assert(#seg.maps() > 0)
  assert(select(2, s:resident { pages = true }) == 16)
  assert(#s:pages() == 16)
  -- vmlab.numa
  bad(numa.cpus, -1)
  bad(numa.parse_nodes, "0-99999")
  assert(numa.nodes())
  -- vmlab.workload
  bad(workload.new, { target = s, phases = { { pattern = "random" }, { rate = 0 / 0 } } })
  bad(workload.new, { target = { start = 0, ["end"] = 4096 } })
  local w = workload.new { target = s }
  bad(w.truth, w, { form = 1 })
  assert(w:truth { pages = true })
  w:close()
  -- vmlab.proc (children's replies go through a Lua-owned buffer)
  bad(proc.child, "a/b")
  bad(proc.kick, 0)
end
local c = proc.child("leaky")
for i = 1, N do
  assert(c:eval("local t = {} t.t = t return t") == nil)
  assert(#c:eval("local t = {} for i = 1, 300 do t[i] = i end return t") == 300)
  bad(c.eval, c, 42, "x")
end
c:close()
s:close()
print("done")
]]):format(path))
f:close()
local pf = assert(io.open(path, "w"))
pf:write(string.rep("x", 8192))
pf:close()

local cmd
if sanitized then
  cmd = ("%s %s 2>&1"):format(exe, script)
else
  cmd = ("valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect "
    .. "--error-exitcode=42 --child-silent-after-fork=yes %s %s 2>&1"):format(exe, script)
end
local p = io.popen(cmd)
local out = p:read("a")
local ok, _, code = p:close()
t.like(out, "done", "the bad calls ran")
t.ok(ok, ("no leak reported (%s, exit %s)"):format(sanitized and "LeakSanitizer" or "valgrind", tostring(code)))
if not sanitized then
  t.ok(out:find("definitely lost: 0 bytes", 1, true) or out:find("no leaks are possible", 1, true),
    "valgrind: nothing definitely lost")
  t.unlike(out, "indirectly lost: [1-9]", "valgrind: nothing indirectly lost")
end
if not ok then t.diag(out:sub(-4000)) end
os.remove(script)
os.remove(path)
t.done_testing()
