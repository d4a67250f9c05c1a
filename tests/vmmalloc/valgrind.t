-- The preload smoke tests under valgrind's memcheck: sort and perl with
-- LD_PRELOAD=libvmmalloc.so report no errors.  somalloc=nouserintercepts
-- keeps valgrind from replacing the preload's malloc (it still watches
-- glibc's), so memcheck checks libvmmalloc itself at work: the heap
-- summary must count no allocations of valgrind's own.
local t = require "vmlab.tap"
local build = os.getenv("VMLAB_BUILD") or "build"
local lib = build .. "/libvmmalloc.so"
if not io.open(lib) then t.skip_all("no " .. lib) end
t.requires{ program = "valgrind" }
t.requires{ program = "perl" }

local function run(cmd)
  local f = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
  local out = f:read("a")
  f:close()
  return out:gsub("rc=%d+\n$", ""), tonumber(out:match("rc=(%d+)\n$"))
end
local function slurp(path)
  local f = io.open(path)
  local s = f and f:read("a") or ""
  if f then f:close() end
  os.remove(path)
  return s
end

local input, sorted = os.tmpname(), os.tmpname()
local f = assert(io.open(input, "w"))
local x = 777
for _ = 1, 2000 do x = (x * 1103515245 + 12345) % 2147483648; f:write(x, "\n") end
f:close()
local progs = {
  { "sort", "sort -n " .. input .. " -o " .. sorted },
  { "perl", [[perl -e 'my %h; $h{$_} = "x" x $_ for 1..500; print scalar(keys %h), "\n"']] },
}
for _, p in ipairs(progs) do
  local name, cmd = p[1], p[2]
  local want = run(cmd) .. slurp(sorted)
  local log = os.tmpname()
  local got, rc = run(("env VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=%d LD_PRELOAD=%s valgrind --error-exitcode=42 "
    .. "--soname-synonyms=somalloc=nouserintercepts --log-file=%s %s"):format(64 * 1024 * 1024, lib, log, cmd))
  got = got .. slurp(sorted)
  local text = slurp(log)
  t.is(rc, 0, name .. " under valgrind with the preload: exit 0 (42: memcheck found errors)")
  t.like(text, "ERROR SUMMARY: 0 errors", name .. ": memcheck found no errors")
  t.like(text, "total heap usage: 0 allocs", name .. ": valgrind did not take malloc over, the pool served it")
  t.ok(#want > 0 and got == want, name .. ": same output as without")
end
os.remove(input)
t.done_testing()
