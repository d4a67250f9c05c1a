-- damon.monitor{backend = "uffd", targets = {seg, ...}}: the uffd backend on
-- vmlab's own segments.  A mover thread here moves sampled pages out and
-- back; the segment is registered whole, so no VMA is cut (the prot
-- backend cuts one per sample).  Accuracy on a hotspot workload, memory
-- intact, huge pages kept, a fork, a closed segment, GC with pages out.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"
local wl = require "vmlab.workload"
local proc = require "vmlab.proc"
local fx = require "vmlab.damos_effect"
local vmlab = require "vmlab"
local MiB = 1024 * 1024

local u = dofile(arg[0]:match("^(.*/)") .. "uffdlib.lua")

-- the VMAs /proc/self/maps shows inside s
local function nvmas(s)
  local n = 0
  for line in io.lines("/proc/self/maps") do
    local a, b = line:match("^(%x+)-(%x+)")
    a, b = tonumber(a, 16), tonumber(b, 16)
    if a < s.addr + s.size and b > s.addr then n = n + 1 end
  end
  return n
end

-- The best of n snapshots: hot bytes seen accessed, cold bytes reported
-- accessed (a loaded machine may not run the workload in every one).
local function score(m, n, lo, hi, during)
  local best_in, best_out, seen = -1, 0, 0
  for sn in m:snapshots { count = n, timeout = 20 } do
    seen = seen + 1
    if during then during() end
    local inside_sum, outside_sum = 0, 0
    for _, tg in ipairs(sn.targets) do
      for _, r in ipairs(tg.regions) do
        if r.nr_accesses > 0 then
          local inside = math.max(0, math.min(r["end"], hi) - math.max(r.start, lo))
          inside_sum, outside_sum = inside_sum + inside, outside_sum + (r["end"] - r.start - inside)
        end
      end
    end
    if inside_sum > best_in or (inside_sum == best_in and outside_sum < best_out) then
      best_in, best_out = inside_sum, outside_sum
    end
  end
  return best_in, best_out, seen
end

local s = seg.anon("uself", "64m")
s:fill { seed = 7 }
local vmas0 = nvmas(s)

-- the prot backend cuts the segment (this is what the count sees)
do
  local m = damon.monitor { targets = { s }, sample = "1ms", aggr = "20ms" }
  m:start()
  -- its thread arms the first sample once it runs: on a loaded machine
  -- (CI's make asan) 60 ms was once not enough, so wait for the cut (10 s)
  local cut, deadline = nvmas(s), vmlab.now() + 10
  while cut <= vmas0 + 4 and vmlab.now() < deadline do
    vmlab.snooze("20ms")
    cut = nvmas(s)
  end
  m:close()
  t.cmp_ok(cut, ">", vmas0 + 4, "the prot backend cuts the segment into VMAs (" .. vmas0 .. " -> " .. cut .. ")")
end

for _, mode in ipairs { "rw", "write" } do
  local w = wl.new { target = s, pattern = "hotspot", hot = { offset = "32m", length = "4m" }, hot_share = 1,
    op = mode == "rw" and "read" or "write" }
  local m, err = damon.monitor { backend = "uffd", mode = mode, targets = { s }, sample = "2ms", aggr = "40ms",
    budget = 0.5, seed = 9 }
  t.ok(m, mode .. ": a uffd monitor on a segment (" .. tostring(err) .. ")")
  if not m then break end
  t.like(tostring(m), "uffd, 1 target", mode .. ": it says its backend")
  w:start()
  m:start()
  local most = 0
  local hot_in, cold_out, n = score(m, 10, s.addr + 32 * MiB, s.addr + 36 * MiB,
    function() most = math.max(most, nvmas(s)) end)
  w:close()
  t.is(n, 10, mode .. ": ten snapshots")
  t.is(most, vmas0, mode .. ": no VMA cut while sampling (" .. vmas0 .. " before, at most " .. most .. " during)")
  t.cmp_ok(hot_in, ">=", 0.9 * 4 * MiB, mode .. ": >= 90% of the hot bytes seen (" .. hot_in // 1024 .. " KiB of 4096)")
  t.cmp_ok(cold_out, "<=", 0.1 * 60 * MiB, mode .. ": <= 10% of the cold bytes reported (" .. cold_out // 1024 ..
    " KiB of 61440)")
  local st = m:stats()
  t.is(st.mode, mode, mode .. ": stats say the mode")
  t.ok(st.armed > 100 and st.touched > 0, mode .. ": pages sampled (" .. st.armed .. " armed, " .. st.touched .. " touched)")
  t.is(st.pid, nil, mode .. ": no pid: this process")
  -- the Lua thread reads the whole segment while pages are out: it waits
  -- for the mover, then sees its data
  if mode == "rw" then
    t.ok(s:verify { seed = 7 }, "rw: the Lua thread reads every page (out ones come back) and finds its data")
  else
    t.is((s:touch("read")), 16384, "write: every page readable while sampled")
  end
  m:close()
  t.is(nvmas(s), vmas0, mode .. ": VMAs as before after close")
  if mode == "write" then s:fill { seed = 7 } end
end
t.ok(s:verify { seed = 7 }, "memory intact (the fill pattern checks) after both monitors")

-- a fork while pages are out: they go home first (the child would see zeros)
do
  local m = assert(damon.monitor { backend = "uffd", targets = { s }, sample = "1ms", aggr = "20ms",
    min_regions = 200, max_regions = 400, budget = 1 })
  m:start()
  vmlab.snooze("30ms")
  local kids, good = 0, 0
  for _ = 1, 4 do
    local f = proc.fork(function() return s:verify { seed = 7 } and 0 or 3 end)
    local how, code = f:wait(20)
    kids = kids + 1
    if how == "exited" and code == 0 then good = good + 1 end
    f:close()
  end
  t.is(good, kids, "forks while pages are out: every child sees the data (" .. good .. "/" .. kids .. ")")
  -- GC with pages out: every page goes home before the monitor is freed
  m = nil
  collectgarbage()
  collectgarbage()
  t.ok(s:verify { seed = 7 }, "a monitor collected while running put every page home")
end

-- the segment changes under held pages: mlock (it populates, faulting on
-- the pages that are out) and mprotect read-only; a move home into a VMA
-- that no longer matches the holding area is refused, so the data is
-- copied home instead
do
  local m = assert(damon.monitor { backend = "uffd", targets = { s }, sample = "1ms", aggr = "10ms",
    min_regions = 200, max_regions = 400, budget = 1 })
  m:start()
  vmlab.snooze("30ms")
  local locked, lerr = s:lock()
  vmlab.snooze("20ms")
  if locked then s:unlock() end
  t.ok(locked, "mlock of a sampled segment returns (" .. tostring(lerr) .. ")")
  s:protect("r")
  vmlab.snooze("20ms")
  t.ok(s:verify { seed = 7 }, "mlock and mprotect of a sampled segment: data intact")
  s:protect("rw")
  vmlab.snooze("20ms")
  m:close()
  t.ok(s:verify { seed = 7 }, "and after close")
end

-- huge pages are moved whole and kept
do
  local h = seg.anon("uself_thp", "32m", { huge = true, align = "2m" })
  h:fill { seed = 3 }
  local before = fx.smaps(h).AnonHugePages or 0
  if before == 0 then
    t.skip("no transparent huge pages here (AnonHugePages 0)", 3)
  else
    local w = wl.new { target = h, pattern = "hotspot", hot = { offset = "8m", length = "4m" }, hot_share = 1, op = "read" }
    local m = assert(damon.monitor { backend = "uffd", targets = { h }, sample = "2ms", aggr = "20ms", budget = 1 })
    w:start()
    m:start()
    for _ in m:snapshots { count = 5, timeout = 20 } do end
    w:close()
    local st = m:stats()
    m:close()
    t.cmp_ok(st.huge, ">", 0, "THP: samples moved whole huge pages (" .. st.huge .. ")")
    t.is(fx.smaps(h).AnonHugePages, before, "THP: AnonHugePages the same after sampling (" .. before // 1024 .. " KiB)")
    t.ok(h:verify { seed = 3 }, "THP: memory intact")
  end
  h:close()
end

-- two targets; one closed (unmapped) while sampled: no crash, the other goes on
do
  local a, b = seg.anon("uself_a", "8m"), seg.anon("uself_b", "8m")
  a:fill { seed = 1 }
  b:fill { seed = 2 }
  local m = assert(damon.monitor { backend = "uffd", targets = { a, b }, sample = "1ms", aggr = "10ms",
    min_regions = 50, budget = 1 })
  m:start()
  vmlab.snooze("30ms")
  b:close()
  local n = 0
  for _ in m:snapshots { count = 5, timeout = 20 } do n = n + 1 end
  t.is(n, 5, "a target unmapped while sampled: the monitor goes on")
  t.ok(a:verify { seed = 1 }, "the other target intact")
  m:close()
  t.ok(a:verify { seed = 1 }, "and after close")
  a:close()
end

-- as nobody: where vm.unprivileged_userfaultfd is 0, rw mode says why and
-- write mode (user-mode-only userfaultfd: WP_ASYNC needs no more) works
if os.execute("command -v setpriv >/dev/null && id nobody >/dev/null 2>&1") and
   io.popen("id -u"):read("l") == "0" then
  local script = os.tmpname()
  local sf = assert(io.open(script, "w"))
  sf:write([[
local s = require("vmlab.seg").anon("x", "4m")
s:fill { seed = 1 }
local damon = require "vmlab.damon"
print("rw", damon.monitor { backend = "uffd", targets = { s } })
local m = assert(damon.monitor { backend = "uffd", mode = "write", targets = { s }, sample = "1ms", aggr = "10ms" })
m:start()
for _ in m:snapshots { count = 2, timeout = 20 } do end
m:close()
print("write", m ~= nil, s:verify { seed = 1 })
]])
  sf:close()
  os.execute("chmod 0644 " .. script)
  local V = u.V
  local p = io.popen("setpriv --reuid=nobody --regid=nogroup --clear-groups " .. V .. " " .. script .. " 2>&1")
  local out = p:read("a")
  p:close()
  os.remove(script)
  local sysctl = io.open("/proc/sys/vm/unprivileged_userfaultfd")
  local allowed = sysctl and sysctl:read("l") == "1"
  if sysctl then sysctl:close() end
  if allowed then
    t.like(out, "rw\tdamon monitor", "as nobody: rw mode (vm.unprivileged_userfaultfd is 1)")
  else
    t.like(out, "rw\tnil\t.*unprivileged_userfaultfd is 0.*mode = \"write\" needs neither",
      "as nobody: rw mode refused with the reason and the way out")
  end
  t.like(out, "write\ttrue\ttrue", "as nobody: write mode samples (user-mode-only userfaultfd)")
else
  t.skip("needs root, setpriv and the user nobody", 2)
end

-- refusals
local f = seg.memfd("uself_memfd", "4m")
t.error_like(function() damon.monitor { backend = "uffd", targets = { f } } end,
  "not private anonymous writable memory", "a memfd segment is refused (no moves on shared memory)")
f:close()
do
  local m = assert(damon.monitor { backend = "uffd", targets = { s } })
  t.error_like(function() damon.monitor { backend = "uffd", targets = { s } } end,
    "another uffd watches it", "a second uffd monitor on the same segment is refused")
  m:close()
end
t.error_like(function() damon.monitor { backend = "uffd", targets = { s, { command = { "true" } } } } end,
  "segments and processes do not mix", "segments and a command do not mix")
s:close()
t.done_testing()
