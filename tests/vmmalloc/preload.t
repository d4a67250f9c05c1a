-- libvmmalloc.so under LD_PRELOAD: real programs give the same output, the
-- heap is the pool file, and bad settings end the process with one message.
local t = require "vmlab.tap"
local build = os.getenv("VMLAB_BUILD") or "build"
local lib = build .. "/libvmmalloc.so"
if not io.open(lib) then t.skip_all("no " .. lib) end
t.requires{ program = "perl" }

local function run(cmd)
  local f = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
  local out = f:read("a")
  f:close()
  local rc = tonumber(out:match("rc=(%d+)\n$"))
  return out:gsub("rc=%d+\n$", ""), rc
end
local function pre(env, cmd)
  return ("env %s LD_PRELOAD=%s %s"):format(env, lib, cmd)
end
local ok_env = "VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=" .. 64 * 1024 * 1024

-- sort on a file of 30000 shuffled numbers: same output as without
local input = os.tmpname()
local f = assert(io.open(input, "w"))
local x = 12345
for _ = 1, 30000 do x = (x * 1103515245 + 12345) % 2147483648; f:write(x, "\n") end
f:close()
local plain, rc0 = run("sort -n " .. input .. " | md5sum")
local pooled, rc1 = run(pre(ok_env, "sort -n " .. input) .. " | md5sum")
t.is(rc0, 0, "sort runs")
t.is(pooled, plain, "sort under the preload gives the same output")
os.remove(input)

-- perl: a hash of arrays, forks and a child that allocates
local script = [[perl -e 'my %h; $h{$_} = [map { "x" x $_ } 1..20] for 1..2000; my $p = fork; if (!$p) { my @a = map { "y" x 100 } 1..10000; exit(@a == 10000 ? 0 : 1) } waitpid($p, 0); print scalar(keys %h), " ", length($h{77}[19]), " ", $? >> 8, "\n"']]
t.is((run(pre(ok_env, script))), "2000 20 0\n", "perl with fork: same result as without (" .. (run(script)):gsub("\n", "") .. ")")

-- python3 with threads (and a subprocess: fork + exec)
local py = io.open("/usr/bin/python3") and "/usr/bin/python3"
if py then
  local prog = py .. [[ -c 'import threading, subprocess
r = []
def work(): r.append(sum(len(str(i) * 30) for i in range(10000)))
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(r, subprocess.run(["echo", "child"], capture_output=True).stdout.decode().strip())']]
  local want = run(prog)
  t.is((run(pre(ok_env, prog))), want, "python3 with 4 threads and a subprocess: " .. want:gsub("\n", ""))
else
  t.skip("no /usr/bin/python3")
end

-- sqlite3 with a few thousand rows, git status on a small repository
if io.open("/usr/bin/sqlite3") then
  local q = [[sqlite3 :memory: "create table t(a, b); with recursive c(x) as (select 1 union all select x+1 from c limit 3000) insert into t select x, hex(randomblob(20)) from c; create index i on t(b); select count(*), sum(a), count(distinct length(b)) from t;"]]
  local want = run(q)
  t.is((run(pre(ok_env, q))), want, "sqlite3 with 3000 rows: " .. want:gsub("\n", ""))
else
  t.skip("no sqlite3")
end
if io.open("/usr/bin/git") then
  local dir = os.tmpname()
  os.remove(dir)
  local setup = ("mkdir %s && cd %s && git init -q && for i in 1 2 3 4 5; do echo $i > f$i; done && git add f1 f2 && "
    .. "git -c user.name=t -c user.email=t@t commit -qm x && echo changed > f1"):format(dir, dir)
  run(setup)
  local want = run("git -C " .. dir .. " status --porcelain")
  t.like(want, " M f1\n%?%? f3", "git status without the preload sees the change")
  t.is((run(pre(ok_env, "git -C " .. dir .. " status --porcelain"))), want, "git status: same output")
  run("rm -rf " .. dir)
else
  t.skip("no git")
end

-- VMMALLOC_FORK=1 spelled out, as the default
t.is((run(pre(ok_env .. " VMMALLOC_FORK=1", script))), "2000 20 0\n", "VMMALLOC_FORK=1: perl with fork")

-- VMMALLOC_FORK 3 falls back to copy-on-write when the copy cannot be made
-- (the pool's directory was removed); 2 then ends the process with a message
local function gone_dir_fork(mode)
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir " .. d))
  local prog = [[perl -e 'rmdir $ARGV[0] or die "rmdir"; my $p = fork; if (!$p) { my @a = map { "y" x 100 } 1..10000; exit(@a == 10000 ? 0 : 1) } waitpid($p, 0); print "child ", $? >> 8, "\n"' ]] .. d
  local o, r = run(pre("VMMALLOC_POOL_DIR=" .. d .. " VMMALLOC_POOL_SIZE=67108864 VMMALLOC_LOG_LEVEL=2 VMMALLOC_FORK=" .. mode, prog))
  os.execute("rmdir " .. d .. " 2>/dev/null")
  return o, r
end
local o3, r3 = gone_dir_fork(3)
t.like(o3, "<2> fork: the pool is copy%-on%-write from now on\nchild 0\n$", "VMMALLOC_FORK=3 without a copy: copy-on-write, the child allocates")
t.is(r3, 0, "and the program succeeds")
local o2, r2 = gone_dir_fork(2)
t.like(o2, "Error %(libvmmalloc%): fork: cannot copy the pool file for the child %(VMMALLOC_FORK=2%): No such file", "VMMALLOC_FORK=2 without a copy: " .. (o2:match("Error[^\n]*") or o2))
t.is(r2, 1, "and ends the process")

-- the heap is in the pool file: a shared mapping of the pool's size
local maps = run(pre(ok_env, "cat /proc/self/maps"))
local found
for lo, hi, flags, path in maps:gmatch("(%x+)%-(%x+) (%S+) %S+ %S+ %S+ +([^\n]*)") do
  if tonumber(hi, 16) - tonumber(lo, 16) == 64 * 1024 * 1024 and flags:sub(4, 4) == "s" and path:match("^/tmp/") then found = path end
end
t.ok(found, "the pool is a shared mapping of a file in VMMALLOC_POOL_DIR: " .. tostring(found))
t.like(found or "", "%(deleted%)$", "unlinked, so its space is reclaimed when the process ends")

-- exhaustion: malloc returns NULL (perl says so) instead of growing
local out, rc = run(pre("VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=16777216", [[perl -e '$x = "a" x 100_000_000; print length $x']]))
t.like(out, "Out of memory", "a 16 MiB pool cannot hold 100 MB: " .. out:gsub("\n.*", ""))
t.isnt(rc, 0, "and the program fails")

-- under normal use nothing is printed; log levels print what they promise
t.is((run(pre(ok_env, "echo quiet"))), "quiet\n", "level 0 (default): the library prints nothing")
local logbase = os.tmpname()
os.remove(logbase)
local lo = run(pre(ok_env .. " VMMALLOC_LOG_LEVEL=3 VMMALLOC_LOG_FILE=" .. logbase .. "-", [[perl -e 'print $$, "\n"']]))
local pid = lo:match("(%d+)")
local lf = io.open(logbase .. "-" .. tostring(pid))
local logtext = lf and lf:read("a") or ""
if lf then lf:close() end
os.remove(logbase .. "-" .. tostring(pid))
t.like(logtext, "<libvmmalloc>: <2> pool of 67108864 bytes", "VMMALLOC_LOG_FILE ending in '-': the pid appended to the name as given (" .. logbase .. "-" .. tostring(pid) .. "); level 2 logs the pool")
t.like(logtext, "<libvmmalloc>: <3> pool 67108864 bytes, %d+ handed to jemalloc, %d+ of file space reserved, %d+ allocated", "level 3: statistics at exit")
t.unlike(logtext, "<4>", "level 3 does not trace every allocation")
-- level 3 traces the calls that are not allocations; 4 every allocation
local function log_of(level, cmd)
  local f = os.tmpname()
  run(pre(ok_env .. " VMMALLOC_LOG_LEVEL=" .. level .. " VMMALLOC_LOG_FILE=" .. f, cmd))
  local h = io.open(f)
  local text = h and h:read("a") or ""
  if h then h:close() end
  os.remove(f)
  return text
end
local py = [[python3 -c 'import ctypes; c = ctypes.CDLL(None); c.malloc_trim(0); c.mallopt(1, 0)']]
local l3 = log_of(3, py)
t.like(l3, "<3> malloc_trim%(0%): the pool's free pages purged", "level 3: malloc_trim traced")
t.like(l3, "<3> mallopt%(1, 0%): ignored", "level 3: mallopt traced")
local l4 = log_of(4, [[perl -e 'my @a = map { "x" x $_ } 1..300; print scalar @a']])
local mallocs = select(2, l4:gsub("<4> malloc%(%d+%) = 0x%x+", ""))
local frees = select(2, l4:gsub("<4> free%(0x%x+%)", ""))
t.cmp_ok(mallocs, ">=", 300, "level 4: every malloc traced with its size and address (" .. mallocs .. ")")
t.cmp_ok(frees, ">", 0, "and every free (" .. frees .. ")")
t.like(l4, "<4> realloc%(0x%x+, %d+%) = 0x%x+", "and reallocs")
local full = run(pre("VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=16777216 VMMALLOC_LOG_LEVEL=1", [[perl -e '$x = "a" x 100_000_000']]))
t.like(full, "<libvmmalloc>: <1> cannot allocate %d+ bytes: the pool is full", "level 1 logs the failure")
t.unlike(full, "<2>", "and not the level 2 messages")

-- bad settings: one message, the process ends
local cases = {
  { "VMMALLOC_POOL_SIZE=67108864", "VMMALLOC_POOL_DIR is not set" },
  { "VMMALLOC_POOL_DIR=/tmp", "VMMALLOC_POOL_SIZE is not set" },
  { "VMMALLOC_POOL_DIR=/nonexistent VMMALLOC_POOL_SIZE=67108864", "VMMALLOC_POOL_DIR is not a directory: /nonexistent" },
  { "VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=1000", "VMMALLOC_POOL_SIZE is below the minimum of 14680064 bytes %(VMMALLOC_MIN_POOL%): 1000" },
  { "VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=-5", "VMMALLOC_POOL_SIZE is not a number of bytes: %-5" },
  { "VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=12x", "VMMALLOC_POOL_SIZE is not a number of bytes: 12x" },
  { "VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=67108864 VMMALLOC_LOG_LEVEL=5", "VMMALLOC_LOG_LEVEL must be 0 to 4: 5" },
  { "VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=67108864 VMMALLOC_FORK=7", "VMMALLOC_FORK must be 0, 1, 2 or 3: 7" },
}
for _, c in ipairs(cases) do
  local o, r = run(pre("-u VMMALLOC_POOL_DIR -u VMMALLOC_POOL_SIZE " .. c[1], "echo should-not-run"))
  t.like(o, "^Error %(libvmmalloc%): " .. c[2] .. "\n$", c[1] .. " -> " .. o:gsub("\n", ""))
  t.is(r, 1, "and ends the process")
end
local o = run(pre("VMMALLOC_POOL_DIR=/proc VMMALLOC_POOL_SIZE=67108864", "echo should-not-run"))
t.like(o, "^Error %(libvmmalloc%)", "an unusable directory is an error: " .. o:gsub("\n", ""))
t.done_testing()
