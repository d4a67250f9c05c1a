-- The prot monitor on its own thread while Lua waits: a vmlab.workload
-- thread writes a hot range, the monitor sees it there and not elsewhere;
-- and the budget stretches the sample interval when sampling costs more
-- than its share of a CPU.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"
local wl = require "vmlab.workload"
local vmlab = require "vmlab"
local MiB = 1024 * 1024

local s = seg.anon("bg", "64m")
s:touch { op = "write", all = true }
local w = wl.new { target = s, pattern = "hotspot", hot = { offset = "32m", length = "4m" }, hot_share = 1, op = "write" }
local m = damon.monitor { targets = { s }, sample = "2ms", aggr = "40ms", budget = 0.5, seed = 9 }
t.ok(w:start(), "workload started")
t.ok(m:start(), "monitor started")
local hot_lo, hot_hi = s.addr + 32 * MiB, s.addr + 36 * MiB
-- Score every snapshot and keep the best: on a loaded machine a single
-- aggregation can miss the workload (its thread may not have run).
local n, in_hot, out_hot = 0, -1, 0
for sn in m:snapshots { count = 8, timeout = 10 } do
  n = n + 1
  local inside_sum, outside_sum = 0, 0
  for _, r in ipairs(sn.targets[1].regions) do
    if r.nr_accesses > 0 then
      local lo, hi = math.max(r.start, hot_lo), math.min(r["end"], hot_hi)
      local inside = math.max(0, hi - lo)
      inside_sum, outside_sum = inside_sum + inside, outside_sum + (r["end"] - r.start - inside)
    end
  end
  if inside_sum > in_hot then in_hot, out_hot = inside_sum, outside_sum end
end
m:stop()
w:close()
t.is(n, 8, "eight snapshots while Lua waited")
t.cmp_ok(in_hot, ">=", 2 * MiB, "the hot range is seen accessed (" .. in_hot // 1024 .. " KiB)")
t.cmp_ok(out_hot, "<=", 8 * MiB, "little outside it is (" .. out_hot // 1024 .. " KiB)")
t.cmp_ok(m:stats().faults, ">", 0, "the workload thread's accesses faulted into the hook")
m:close()

-- budget: 1000 regions sampled every 200 us would cost far more than 1%
local b = damon.monitor { targets = { s }, sample = "200us", aggr = "100ms", min_regions = 1000,
  max_regions = 1000, budget = 0.01 }
b:start()
vmlab.snooze("1s")
b:stop()
local st = b:stats()
b:close()
t.cmp_ok(st.sample, ">", 0.002, string.format("the sample interval stretched from 0.2 ms to %.1f ms", st.sample * 1e3))
t.cmp_ok(st.cpu_seconds, "<", 0.1, string.format("sampler CPU %.4f s in 1 s, not the ~1 s unbudgeted", st.cpu_seconds))
t.is((s:touch("read")), 16384, "every page readable after close")
s:close()
t.done_testing()
