-- libvmmalloc.so and its surroundings: the environment checked at load,
-- the log out of the program's way and named as the man page says, a pool
-- larger than its filesystem, and the library as distributions ship it.
local t = require "vmlab.tap"
local build = os.getenv("VMLAB_BUILD") or "build"
local lib = build .. "/libvmmalloc.so"
if not io.open(lib) then t.skip_all("no " .. lib) end
if require("vmlab").sanitized then t.skip_all("ASan owns malloc in this build") end
t.requires{ program = "bash" }
t.requires{ program = "perl" }

local function run(cmd)
  local f = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
  local out = f:read("a")
  f:close()
  local rc = tonumber(out:match("rc=(%d+)\n$"))
  return out:gsub("rc=%d+\n$", ""), rc
end
local function slurp(path)
  local f = io.open(path)
  local s = f and f:read("a")
  if f then f:close() end
  return s
end
local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir " .. d))
  return d
end
local pre = "env LD_PRELOAD=" .. lib .. " "

-- checked at load, in programs that never call malloc (the shell's own
-- `true` would never load the library: /bin/true and `sh -c true` do)
for _, prog in ipairs{ "/bin/true", "sh -c true" } do
  local o, rc = run(pre .. "VMMALLOC_POOL_DIR=/nonexistent VMMALLOC_POOL_SIZE=" .. (1 << 30) .. " " .. prog)
  t.like(o, "^Error %(libvmmalloc%): VMMALLOC_POOL_DIR is not a directory: /nonexistent\n$", prog .. ": " .. o:gsub("\n", ""))
  t.isnt(rc, 0, prog .. ": the process ends with a failure (" .. tostring(rc) .. ")")
end
local o, rc = run("env -u VMMALLOC_POOL_SIZE LD_PRELOAD=" .. lib .. " VMMALLOC_POOL_DIR=/tmp /bin/true")
t.like(o, "^Error %(libvmmalloc%): VMMALLOC_POOL_SIZE is not set", "/bin/true without VMMALLOC_POOL_SIZE: " .. o:gsub("\n", ""))
t.is(rc, 1, "exit 1")
o, rc = run(pre .. "VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=" .. (1 << 30) .. " /bin/true")
t.is(o .. rc, "0", "good settings: /bin/true runs and prints nothing")

-- the log: high and close-on-exec, reopened when the program takes its
-- number; a trailing '-' kept and the pid appended
local d = tmpdir()
o, rc = run(("cd %s && %s VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=%d VMMALLOC_LOG_LEVEL=3 VMMALLOC_LOG_FILE=%s/log- bash -c 'exec 3>f; echo hello >&3; echo $$'")
  :format(d, pre, 64 << 20, d))
local pid = o:match("^(%d+)\n$")
t.ok(pid, "bash ran: " .. o:gsub("\n", " "))
t.is(slurp(d .. "/f"), "hello\n", "a program's own fd 3 gets only what it writes")
local log = slurp(d .. "/log-" .. tostring(pid))
t.ok(log, "VMMALLOC_LOG_FILE=log- gives log-" .. tostring(pid) .. ", the pid appended to the name as given")
t.like(log or "", "<3> pool %d+ bytes, %d+ handed to jemalloc", "and the statistics at exit went there")
-- the library's descriptors (pool, log) sit high and close on exec: a
-- program sees the same low descriptors as without it, and its children
-- none of them
local function fds(env)
  local out = run(("%s bash -c 'ls /proc/$$/fd/; echo --; ls /proc/self/fd/'"):format(env))
  local mine, child = out:match("^(.-)%-%-\n(.*)$")
  local function low(s)
    local l = {}
    for fd in (s or ""):gmatch("%d+") do if tonumber(fd) < 100 then l[#l + 1] = fd end end
    table.sort(l)
    return table.concat(l, " ")
  end
  return low(mine), (child or ""):gsub("%s+", " ")
end
local logged = ("%s VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=%d VMMALLOC_LOG_LEVEL=2 VMMALLOC_LOG_FILE=%s/x"):format(pre, 64 << 20, d)
local plain_low = fds("env")
local pooled_low, pooled_child = fds(logged)
t.is(pooled_low, plain_low, "bash under the preload has the low descriptors it has without: " .. plain_low)
local info = run(logged .. [[ bash -c 'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -ge 700 ] && [ "$n" -lt 1000 ] && echo "$n $(readlink $f) $(grep flags /proc/$$/fdinfo/$n)"; done']])
local n, cloexec = 0, 0
for line in info:gmatch("[^\n]+") do
  n = n + 1
  local flags = tonumber(line:match("flags:%s+(%d+)") or "0", 8)
  if flags & 0x80000 ~= 0 then cloexec = cloexec + 1 end   -- O_CLOEXEC, 02000000
end
t.ok(n >= 2 and cloexec == n, "the pool file and the log: high and close-on-exec\n" .. info)
os.execute("rm -rf " .. d)

-- a pool larger than its filesystem: ENOMEM, never SIGBUS
local mnt = tmpdir()
local mounted = os.execute("mount -t tmpfs -o size=32m vmlab-pool-test " .. mnt .. " 2>/dev/null")
if not mounted then
  t.skip("cannot mount a tmpfs here (needs root)", 3)
else
  o, rc = run(pre .. "VMMALLOC_POOL_DIR=" .. mnt .. " VMMALLOC_POOL_SIZE=" .. (256 << 20)
    .. [[ perl -e 'my @a; push @a, "x" x 1_000_000 while 1']])
  t.isnt(rc, 135, "256 MiB pool on a 32 MiB tmpfs, filled: no SIGBUS")
  t.like(o, "Out of memory", "malloc said NULL, perl says so: " .. o:gsub("\n", " "))
  o, rc = run(pre .. "VMMALLOC_POOL_DIR=" .. mnt .. " VMMALLOC_POOL_SIZE=" .. (256 << 20)
    .. [[ perl -e 'my @a; my $n = 0; while (1) { my $s = eval { "y" x 100_000 }; last unless defined $s; push @a, $s; last if ++$n == 200 } print scalar(@a), "\n"']])
  t.like(o, "^200\n$", "within the filesystem's space the pool serves as usual (" .. o:gsub("\n", "") .. ")")
  os.execute("umount " .. mnt)
end
os.execute("rmdir " .. mnt)

-- as distributions ship it: SONAME libvmmalloc.so.1, libvmmalloc.so a
-- symlink, and -lvmmalloc makes it a program's allocator
local dyn = run("readelf -d " .. build .. "/libvmmalloc.so.1")
t.like(dyn, "SONAME%)%s+Library soname: %[libvmmalloc%.so%.1%]", "SONAME libvmmalloc.so.1")
t.like(run("readlink " .. build .. "/libvmmalloc.so"), "^libvmmalloc%.so%.1\n$", "libvmmalloc.so -> libvmmalloc.so.1")
if os.execute("command -v cc >/dev/null") then
  local dir = tmpdir()
  local f = assert(io.open(dir .. "/m.c", "w"))
  f:write([[#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) { char *p = malloc(1 << 20); memset(p, 1, 1 << 20); printf("%d\n", p[7]); malloc_stats(); free(p); return 0; }
]])
  f:close()
  local out, crc = run(("cc -o %s/m %s/m.c -L%s -lvmmalloc"):format(dir, dir, build))
  t.is(crc, 0, "a program links with -lvmmalloc " .. out)
  t.like(run("readelf -d " .. dir .. "/m"), "NEEDED%)%s+Shared library: %[libvmmalloc%.so%.1%]", "and needs libvmmalloc.so.1")
  out = run(("env LD_LIBRARY_PATH=%s VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=%d %s/m"):format(build, 64 << 20, dir))
  t.like(out, "Arena 0 %(libvmmalloc pool of 67108864 bytes%):\nsystem bytes +=", "its malloc is the pool's: malloc_stats says so")
  t.like(out, "\n1\n$", "and the program ran")
  os.execute("rm -rf " .. dir)
else
  t.skip("no cc", 4)
end
t.done_testing()
