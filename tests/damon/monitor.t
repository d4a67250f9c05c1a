-- vmlab.damon monitors: attributes, the replay backend (exact and
-- repeatable), the prot backend on real memory, and the kernel backend's
-- refusal to touch a kdamond vmlab did not start.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"
local vmlab = require "vmlab"

local MiB = 1024 * 1024
local base, size = 0x100000000, 256 * MiB
local function hot_oracle(frac)
  return function(addr) return addr < base + math.floor(size * frac) // 4096 * 4096 end
end
local function replay(opts)
  opts.targets = opts.targets or { { start = base, ["end"] = base + size } }
  opts.oracle = opts.oracle or hot_oracle(0.1)
  return damon.monitor(opts)
end

-- attributes, as the kernel checks them
t.error_like(function() replay { min_regions = 2 } end, "min_regions must be at least 3", "min < 3 rejected")
t.error_like(function() replay { min_regions = 20, max_regions = 10 } end, "must not exceed max_regions", "min > max rejected")
t.error_like(function() replay { sample = "200ms", aggr = "100ms" } end, "sample interval must not exceed", "sample > aggr rejected")
t.error_like(function() replay { budget = 2 } end, "budget", "budget out of range")
t.error_like(function() damon.monitor { backend = "replay", targets = { { start = base, ["end"] = base + size } } } end,
  "needs an oracle", "replay without an oracle")
t.error_like(function() damon.monitor { backend = "prot" } end, "needs targets", "prot on the whole process refused")
t.error_like(function() damon.monitor { backend = "nope" } end, "invalid option 'nope'", "unknown backend")
-- counts are range-checked before they are narrowed, naming the option
t.error_like(function() replay { max_regions = -1 } end, "bad option 'max_regions' %(%-1 is out of range",
  "max_regions = -1 raises")
t.error_like(function() replay { max_regions = 2 ^ 32 + 5 } end, "bad option 'max_regions'", "max_regions = 2^32+5 raises")
t.error_like(function() replay { min_regions = (1 << 32) + 5 } end, "bad option 'min_regions'", "min_regions = 2^32+5 raises")
t.error_like(function() replay { sample = 1e300 } end, "bad option 'sample'", "a huge interval raises")
t.error_like(function() replay { budget = 0 / 0 } end, "budget", "a NaN budget raises")
t.error_like(function() replay { seed = "x" } end, "bad option 'seed'", "a non-integer seed raises")
-- misspelled keys, at every level that takes options
t.error_like(function() replay { smaple = "1ms" } end, "damon.monitor: unknown option 'smaple' %(did you mean 'sample'%?%)",
  "damon.monitor names a misspelled key")
t.error_like(function() replay { oracle = { { start = base, ["end"] = base + 4096, pp = 1 } } } end,
  "unknown option 'pp'", "a pattern entry names a misspelled key")
t.error_like(function() replay {}:snapshots { cuont = 1 } end, "m:snapshots: unknown option 'cuont'",
  "m:snapshots names a misspelled key")

-- replay: virtual time, exact
local m = replay { seed = 7 }
t.like(tostring(m), "^damon monitor %(replay, 1 target%(s%), 10 regions, stopped%)$", "starts with min_regions regions")
t.is(m:step(20), 1, "20 samples of 5 ms make one 100 ms aggregation")
local snap = m:snapshot()
t.is(snap.time_us, 100000, "snapshot time is virtual")
t.is_deeply(snap.intervals, { sample = 0.005, aggr = 0.1, update = 1 }, "snapshots carry the intervals they ran at")
t.is_deeply(m:stats().intervals, { sample = 0.005, aggr = 0.1, update = 1 }, "so do stats")
t.is(#snap.targets, 1, "one target")
t.is(snap.targets[1].id, 1, "with its id")
local calls = 0
m:on_aggregate(function(s, mon)
  calls = calls + 1
  assert(mon == m and s.targets)
end)
t.is(m:step(20 * 19), 19, "19 more aggregations")
t.is(calls, 19, "on_aggregate ran for each")
snap = m:snapshot()
local hot, cold_in_hot, n = 0, 0, 0
for _, r in ipairs(snap.targets[1].regions) do
  n = n + 1
  local sz = r["end"] - r.start
  if r.nr_accesses >= 10 then
    hot = hot + sz
    if r["end"] > base + size // 10 then cold_in_hot = cold_in_hot + (r["end"] - math.max(r.start, base + size // 10)) end
  end
end
t.cmp_ok(hot, ">=", 0.9 * size / 10, "the hot 10% is found (" .. hot // MiB .. " MiB)")
t.cmp_ok(cold_in_hot, "<=", 0.1 * size * 0.9, "with little cold memory counted hot")
t.ok(n >= 10 and n <= 1000, "the region count stays within min and max (" .. n .. ")")
local ordered = true
for i = 2, #snap.targets[1].regions do
  ordered = ordered and snap.targets[1].regions[i].start >= snap.targets[1].regions[i - 1]["end"]
end
t.ok(ordered, "regions are sorted and disjoint")
local st = m:stats()
t.is(st.samples, 400, "stats: samples")
t.is(st.aggregations, 20, "stats: aggregations")
t.is(st.backend, "replay", "stats: backend")

local function run(seed)
  local mm = replay { seed = seed, oracle = function(a, tm) return (a // 4096 + tm // 100000) % 7 == 0 end }
  mm:step(200)
  local s = mm:snapshot()
  mm:close()
  return s
end
t.is_deeply(run(3), run(3), "the same seed gives the same snapshots")
local count = 0
for s in replay { seed = 1 }:snapshots { count = 3 } do
  count = count + 1
  assert(s.targets[1].regions[1])
end
t.is(count, 3, "snapshots{count=3} yields three (stepping virtual time)")
local bad = replay { oracle = function() error("oracle broke") end }
t.error_like(function() bad:step(5) end, "oracle failed: .*oracle broke", "an oracle error is raised, not swallowed")
t.error_like(function() m:start() end, "runs in virtual time", "a replay monitor is stepped, not started")
m:close()
t.error_like(function() m:step() end, "closed monitor", "a closed monitor raises")
t.is(tostring(m), "damon monitor (closed)", "closed __tostring")

-- age: a region whose rate stays the same ages every aggregation
local steady = replay { oracle = function() return true end, min_regions = 3, max_regions = 3 }
steady:step(20 * 5)
local maxage = 0
for _, r in ipairs(steady:snapshot().targets[1].regions) do maxage = math.max(maxage, r.age) end
t.cmp_ok(maxage, ">=", 3, "a steady access rate ages the regions (" .. maxage .. ")")
steady:close()

-- the kernel backend: never touches a kdamond vmlab did not start
local ok, why = damon.kernel_available()
local km, kmsg = damon.monitor { backend = "kernel" }
if ok then
  -- available: a kernel monitor exists, stopped, and is no stepped one
  t.ok(km, "the kernel backend may run here: a monitor (" .. tostring(kmsg) .. ")")
  if km then
    t.is(km:stats().backend, "kernel", "its backend is the kernel")
    t.error_like(function() km:step(1) end, "samples on its own", "it is not stepped")
    t.error_like(function() km:snapshot() end, "start the kernel monitor", "no snapshot before start")
    t.error_like(function() km:scheme { action = "stat" } end, "aggregates outside vmlab",
      "vmlab schemes are refused: the kernel aggregates")
    km:close()
  end
else
  t.is(km, nil, "the kernel backend is refused here")
  t.like(kmsg, why:gsub("%p", "%%%0"), "with the reason (" .. why .. ")")
end

-- prot: real accesses on a segment, sampled on a thread
local s = seg.anon("mon", "64m")
s:fill({ seed = 1 })
local pm = damon.monitor { targets = { s }, sample = "1ms", aggr = "20ms", budget = 0.5 }
t.like(tostring(pm), "prot", "a prot monitor")
t.ok(pm:start(), "start")
t.error_like(function() pm:start() end, "running already", "starting twice raises")
t.error_like(function() pm:step() end, "runs on its thread", "step while running raises")
-- Write the first 4 MiB until five aggregations have seen it (however
-- loaded the machine is), gathering every snapshot as it comes.
local accessed, far, got = 0, 0, 0
pm:on_aggregate(function(snap2)
  got = got + 1
  for _, r in ipairs(snap2.targets[1].regions) do
    if r.nr_accesses > 0 then
      accessed = accessed + (r["end"] - r.start)
      if r.start >= s.addr + 16 * MiB then far = far + (r["end"] - r.start) end
    end
  end
end)
local t0 = vmlab.now()
while got < 5 and vmlab.now() - t0 < 20 do
  s:touch({ op = "write", length = "4m" })
  vmlab.snooze("1ms")
end
t.cmp_ok(got, ">=", 5, "snapshots arrive from the thread (" .. got .. ")")
pm:stop()
t.cmp_ok(accessed, ">", 0, "the written part is seen accessed")
t.is(far, 0, "nothing past 16 MiB is seen accessed")
st = pm:stats()
t.cmp_ok(st.faults, ">", 0, "sampled pages faulted (" .. st.faults .. ")")
t.cmp_ok(st.samples, ">=", got, "at least one sample per aggregation (" .. st.samples .. ")")
pm:close()
t.ok(s:verify({ offset = "4m", seed = 1 }), "monitoring did not change the data")
t.is((s:touch("read")), 16384, "every page is readable after close (protections restored)")

-- on_aggregate callbacks run while Lua waits in vmlab.snooze
local idle = damon.monitor { targets = { s }, sample = "1ms", aggr = "20ms", budget = 0.5 }
local seen = 0
idle:on_aggregate(function() seen = seen + 1 end)
idle:start()
vmlab.snooze("400ms")
local during = seen
idle:close()
t.cmp_ok(during, ">=", 3, "on_aggregate callbacks ran during snooze (" .. during .. ")")

-- a fault the monitor did not cause is still an error while it runs
local other = seg.anon("guarded", "64k")
other:protect("none")
local pm2 = damon.monitor { targets = { s }, sample = "1ms", aggr = "10ms" }
pm2:start()
t.error_like(function() other:touch() end, "touch%(seg 'guarded' %+0x0%): SIGSEGV: access not permitted",
  "a real protection fault still raises while a monitor runs")
pm2:close()
t.done_testing()
