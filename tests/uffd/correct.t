-- vmlab record -- cmd with the uffd backend: the monitored program must run
-- exactly as it would unmonitored.  Each case runs tests/uffd/victim once
-- alone and once under `vmlab record` sampling hard (1 ms, up to 2000
-- regions, a whole CPU of budget) and compares the checksums it prints.
local t = require "vmlab.tap"
local uffd = require "vmlab.uffd"
local record = require "vmlab.record"

local u = dofile(arg[0]:match("^(.*/)") .. "uffdlib.lua")
local B, V, sh, hard = u.B, u.V, u.sh, u.hard
local victim = B .. "/tests/uffd/victim"
local tmp = os.tmpname()

local function checksum(out) return out:match("checksum ([%x ]+)") end

-- the kernel touching sampled pages, unmap/remove/remap while out,
-- threads faulting at once, fork with pages out
for _, mode in ipairs { "syscalls", "zap", "threads", "fork" } do
  local base, bcode = sh(victim .. " " .. mode)
  local out, code = sh(V .. " record -v " .. hard .. " -o " .. tmp .. " -- " .. victim .. " " .. mode)
  t.is(bcode, 0, mode .. ": the victim passes alone")
  t.is(code, 0, mode .. ": and monitored (exit status 0, no check failed)")
  t.ok(checksum(base) and checksum(out) == checksum(base), mode .. ": memory bit-identical to the unmonitored run")
  t.like(out, "rw mode, %d+ samples", mode .. ": it was sampled")
  local armed, touched = out:match("(%d+) pages armed, (%d+) touched")
  t.ok(armed and tonumber(armed) > 100 and tonumber(touched) > 0,
    mode .. ": pages went out and came back (" .. tostring(armed) .. " armed, " .. tostring(touched) .. " touched)")
  if code ~= 0 or checksum(out) ~= checksum(base) then t.diag(out) end
end

-- exec: the command's image changes under the same pid, a new agent says
-- hello on the same socket and sampling goes on in the new image
for _, mode in ipairs { "rw", "write" } do
  local base = sh(victim .. " syscalls")
  local out, code = sh(V .. " record -v --mode " .. mode .. " " .. hard .. " -o " .. tmp .. " -- sh -c 'exec " ..
    victim .. " syscalls'")
  local touched = tonumber(out:match("(%d+) touched"))
  t.ok(code == 0 and checksum(out) == checksum(base) and touched and touched > 0,
    mode .. " mode through exec: identical memory, " .. tostring(touched) .. " pages seen touched")
end

-- the record: damo's format, regions inside the process, several snapshots
do
  local snaps, err = record.read(tmp)
  t.ok(snaps and #snaps > 3, "the record reads back: " .. tostring(snaps and #snaps or err))
  local inside = snaps ~= nil
  for _, s in ipairs(snaps or {}) do
    for _, r in ipairs(s.targets[1].regions) do
      if r.start >= r["end"] or r.nr_accesses > 1000 then inside = false end
    end
  end
  t.ok(inside, "its regions are well formed")
end

-- THP kept: whole 2 MiB units move, nothing splits a huge page
do
  local out, code = sh(V .. " record " .. hard .. " -o " .. tmp .. " -- " .. victim .. " thp")
  local before, after = tonumber(out:match("thp_before (%d+)")), tonumber(out:match("thp_after (%d+)"))
  t.is(code, 0, "thp: the victim passes monitored")
  if not before or before == 0 then
    t.skip("no transparent huge pages here (AnonHugePages 0 before sampling)")
  else
    t.is(after, before, "thp: AnonHugePages the same after sampling (" .. before .. " kB)")
  end
end

-- SIGKILL of vmlab with pages out: the agent puts them back, the program
-- goes on with intact memory
do
  local okfile = os.tmpname()
  os.remove(okfile)
  local out = sh("VICTIM_OK=" .. okfile .. " " .. V .. " record " .. hard .. " -o " .. tmp .. " -- " .. victim ..
    " long 3 >/dev/null 2>&1 & p=$!; sleep 1; kill -9 $p; wait $p; echo killed $?")
  t.like(out, "killed 137", "vmlab was SIGKILLed mid-run")
  local f
  for _ = 1, 600 do   -- up to a minute: a loaded machine (seen once under make asan) runs it late
    f = io.open(okfile)
    if f then break end
    os.execute("sleep 0.1")
  end
  t.ok(f and f:read("l") == "ok", "the program went on and found its memory intact to the end")
  if f then f:close() end
  os.remove(okfile)
end

-- a program that may not use userfaultfd: a clear refusal, no hang
do
  local out, code = sh(B .. "/tests/uffd/noufd " .. V .. " record -o " .. tmp .. " -- " .. victim .. " threads")
  t.is(code, 125, "seccomp forbids userfaultfd: vmlab record exits 125")
  t.like(out, "cannot monitor .*userfaultfd%(%): Operation not permitted %(a seccomp filter", "and says why")
  t.ok(checksum(out), "the command still ran to its end")
end

-- a static program ignores LD_PRELOAD: said so, no hang
do
  local bb = sh("command -v busybox"):gsub("%s+$", "")
  if bb == "" or not sh("ldd " .. bb .. " 2>&1"):find("not a dynamic") then
    t.skip("no static busybox here")
  else
    local out, code = sh(V .. " record -o " .. tmp .. " -- " .. bb .. " true")
    t.ok(code == 125 and out:find("no agent answered %(a static"), "a static program: refused, saying why")
  end
end

-- unprivileged: vm.unprivileged_userfaultfd decides
do
  local f = io.open("/proc/sys/vm/unprivileged_userfaultfd")
  local allowed = f and f:read("n")
  if f then f:close() end
  local setpriv = sh("command -v setpriv")
  if setpriv == "" or os.getenv("USER") == "nobody" then
    t.skip("setpriv is missing")
  else
    local out, code = sh("cd /tmp && setpriv --reuid=nobody --regid=nogroup --clear-groups " .. V ..
      " record -o /dev/null -- " .. victim .. " threads")
    if allowed == 0 then
      t.ok(code == 125 and out:find("vm.unprivileged_userfaultfd"), "as nobody with vm.unprivileged_userfaultfd=0: refused, saying why")
    else
      t.is(code, 0, "as nobody with vm.unprivileged_userfaultfd=1: monitored")
    end
  end
end

-- the command line: exit statuses as a shell's, bad options named
do
  local _, code = sh(V .. " record -o " .. tmp .. " -- sh -c 'exit 3'")
  t.is(code, 3, "the command's exit status")
  _, code = sh(V .. " record -o " .. tmp .. " -- sh -c 'kill -9 $$'")
  t.is(code, 137, "128 + the signal that ended it")
  local out
  out, code = sh(V .. " record -o " .. tmp .. " -- /nonexistent/cmd")
  t.is(code, 127, "127 when the command does not exist")
  t.like(out, "exec%(/nonexistent/cmd%): No such file", "saying so")
  out, code = sh(V .. " record --smaple 1ms -- true")
  t.ok(code == 125 and out:find("unknown option '%-%-smaple'"), "an unknown option is named")
  out, code = sh(V .. " record --sample 1s --aggr 100ms -o " .. tmp .. " -- true")
  t.ok(code == 125 and out:find("sample interval must not exceed"), "bad intervals are refused before the command runs")
  t.error_like(function() uffd.record { command = { "true" }, smaple = 1 } end, "unknown option 'smaple'",
    "uffd.record checks its options")
  t.error_like(function() uffd.record { command = {} } end, "non%-empty array", "and needs a command")
  local status, res = uffd.record { command = { "sh", "-c", "exec " .. victim .. " threads >/dev/null" }, out = tmp,
    sample = "2ms", aggr = "20ms",
    mode = "write" }
  t.is(status, 0, "uffd.record from Lua: the status")
  t.ok(res and res.mode == "write" and res.samples > 0 and res.sample >= 0.002 and res.armed > 0,
    "and what it measured: the mode, the interval really used (" .. tostring(res and res.sample) .. " s), the pages")
end

os.remove(tmp)
t.done_testing()
