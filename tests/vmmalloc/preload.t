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

-- sort on a file of 200000 shuffled numbers: same output as without
local input = os.tmpname()
local f = assert(io.open(input, "w"))
local x = 12345
for _ = 1, 200000 do x = (x * 1103515245 + 12345) % 2147483648; f:write(x, "\n") end
f:close()
local plain, rc0 = run("sort -n " .. input .. " | md5sum")
local pooled, rc1 = run(pre(ok_env, "sort -n " .. input) .. " | md5sum")
t.is(rc0, 0, "sort runs")
t.is(pooled, plain, "sort under the preload gives the same output")
os.remove(input)

-- perl: a hash of arrays, forks and a child that allocates
local script = [[perl -e 'my %h; $h{$_} = [map { "x" x $_ } 1..20] for 1..5000; my $p = fork; if (!$p) { my @a = map { "y" x 100 } 1..10000; exit(@a == 10000 ? 0 : 1) } waitpid($p, 0); print scalar(keys %h), " ", length($h{77}[19]), " ", $? >> 8, "\n"']]
t.is((run(pre(ok_env, script))), "5000 20 0\n", "perl with fork: same result as without (" .. (run(script)):gsub("\n", "") .. ")")

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

-- bad settings: one message, the process ends
local cases = {
  { "VMMALLOC_POOL_SIZE=67108864", "VMMALLOC_POOL_DIR is not set" },
  { "VMMALLOC_POOL_DIR=/tmp", "VMMALLOC_POOL_SIZE is not set" },
  { "VMMALLOC_POOL_DIR=/nonexistent VMMALLOC_POOL_SIZE=67108864", "VMMALLOC_POOL_DIR is not a directory: /nonexistent" },
  { "VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=1000", "VMMALLOC_POOL_SIZE is below the minimum of 14680064 bytes %(VMMALLOC_MIN_POOL%): 1000" },
  { "VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=-5", "VMMALLOC_POOL_SIZE is not a number of bytes: %-5" },
  { "VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=12x", "VMMALLOC_POOL_SIZE is not a number of bytes: 12x" },
}
for _, c in ipairs(cases) do
  local o, r = run(pre("-u VMMALLOC_POOL_DIR -u VMMALLOC_POOL_SIZE " .. c[1], "echo should-not-run"))
  t.like(o, "^Error %(libvmmalloc%): " .. c[2] .. "\n$", c[1] .. " -> " .. o:gsub("\n", ""))
  t.is(r, 1, "and ends the process")
end
local o = run(pre("VMMALLOC_POOL_DIR=/proc VMMALLOC_POOL_SIZE=67108864", "echo should-not-run"))
t.like(o, "^Error %(libvmmalloc%)", "an unusable directory is an error: " .. o:gsub("\n", ""))
t.done_testing()
