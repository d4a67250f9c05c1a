-- A trace as the replay sampler's oracle: DAMON's regions find the pages
-- the trace touches.
local tap = require "vmlab.tap"
local trace = require "vmlab.trace"
local damon = require "vmlab.damon"
local path = os.tmpname()

-- 256 pages from 0x100000000; pages 0-31 touched every 1 ms, the rest
-- once at the start; times in microseconds
local psz, base = 4096, 0x100000000
local w <close> = trace.writer(path, { page_size = psz, time_unit_ns = 1000 })
for p = 0, 255 do w:write { time = 0, page = base // psz + p } end
for t = 1, 2000 do for p = 0, 31 do w:write { time = t * 1000, page = base // psz + p } end end
w:close()

local oracle, span = trace.oracle(path, { sample = "5ms" })
tap.is(span.start, base, "span start")
tap.is(span["end"], base + 256 * psz, "span end")
tap.is(span.duration_us, 2000000, "duration")
tap.ok(oracle(base + 5 * psz + 100, 10000), "a hot page: accessed in (5ms, 10ms]")
tap.ok(not oracle(base + 100 * psz, 10000), "a cold page after its one touch: not accessed")
tap.ok(oracle(base + 100 * psz, 3000), "the first interval includes time 0")
tap.ok(not oracle(base + 1000 * psz, 10000), "a page outside the trace")

local m <close> = damon.monitor { targets = { { start = span.start, ["end"] = span["end"] } },
  oracle = oracle, seed = 1, min_regions = 10, max_regions = 100 }
local snaps = {}
m:on_aggregate(function(s) snaps[#snaps + 1] = s end)
m:step(20 * 10)
local last = snaps[#snaps].targets[1].regions
local hot, cold = 0, 0
for _, r in ipairs(last) do
  if r["end"] <= base + 32 * psz then hot = math.max(hot, r.nr_accesses)
  elseif r.start >= base + 64 * psz then cold = math.max(cold, r.nr_accesses) end
end
tap.cmp_ok(hot, ">=", 15, "regions over the hot pages: up to " .. hot .. " accesses per aggregation")
tap.is(cold, 0, "regions over the cold pages: none")
tap.error_like(function() trace.oracle(path, { smaple = 1 }) end, "did you mean 'sample'", "unknown option")
os.remove(path)
tap.done_testing()
