-- Schemes on the replay backend (virtual time, exact): stat counts, actions
-- recorded not applied, age restart, a size quota never exceeded within a
-- reset interval, watermarks switching a scheme off and on, addr filters.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local damos = require "vmlab.damos"
local MiB = 1 << 20
local base, size = 0x100000000, 64 * MiB

local function mon(seed)
  return damon.monitor { targets = { { start = base, ["end"] = base + size } },
    oracle = function(addr) return addr < base + 8 * MiB end, seed = seed or 1 }
end
local function covered(list)
  local n = 0
  for _, r in ipairs(list) do n = n + (r["end"] - r.start) end
  return n
end

-- stat on the hot 8 MiB: counted, nothing changed
local m = mon()
local hot = m:scheme { action = "stat", freq = { 80, 100 } }
local cold = m:scheme { action = "pageout", nr_accesses = { 0, 0 }, age = { 3, math.huge } }
t.like(tostring(hot), "damos scheme %(stat, recorded%)", "a replay scheme records")
m:step(20 * 10)
local st = hot:stats()
t.cmp_ok(st.nr_tried, ">", 0, "stat tried regions (" .. st.nr_tried .. ")")
t.is(st.nr_applied, st.nr_tried, "stat applies to every tried region")
local tr = hot:tried_regions()
t.cmp_ok(covered(tr), ">=", 6 * MiB, "the last pass covers most of the hot 8 MiB")
local outside = 0
for _, r in ipairs(tr) do
  if r["end"] > base + 8 * MiB then outside = outside + r["end"] - math.max(r.start, base + 8 * MiB) end
end
t.is(tr[1] and tr[1].target, 1, "tried regions name their target")
t.cmp_ok(outside, "==", 0, "and nothing cold")
local cs = cold:stats()
t.cmp_ok(cs.sz_applied, ">", 0, "pageout recorded on cold regions (" .. cs.sz_applied // MiB .. " MiB)")
local max_age = 0
for _, r in ipairs(m:snapshot().targets[1].regions) do
  if r.start >= base + 8 * MiB then max_age = math.max(max_age, r.age) end
end
t.cmp_ok(max_age, "<=", 4, "pageout restarts the age of what it acts on (cold max age " .. max_age .. ")")
hot:close()
t.like(tostring(hot), "closed", "a closed scheme says so")
t.error_like(function() hot:stats() end, "closed scheme", "stats on a closed scheme raises")
hot:close()
local before = cold:stats().nr_tried
cold:close()
m:step(40)
t.is(m:step(40), 2, "closing detaches: the monitor steps on")
m:close()
t.error_like(function() mon():scheme { action = "frob" } end, "unknown action 'frob'", "unknown action raises")

-- size quota: 4 MiB per 1 s (10 aggregations); pageout wants all 56 MiB cold
m = mon(3)
local q = m:scheme { action = "pageout", nr_accesses = { 0, 0 }, quota = { sz = "4m", reset_interval = "1s" } }
local sizes = {}
for i = 1, 40 do
  m:step(20)
  sizes[i] = q:stats().sz_applied
end
local worst = 0
for w = 0, 3 do
  local d = sizes[w * 10 + 10] - (w == 0 and 0 or sizes[w * 10])
  worst = math.max(worst, d)
end
t.cmp_ok(worst, "<=", 4 * MiB, "never more than 4 MiB per reset interval (worst " .. worst / MiB .. " MiB)")
t.cmp_ok(sizes[40], ">=", 4 * 3 * MiB, "but the quota is used (" .. sizes[40] / MiB .. " MiB in 4 s)")
t.cmp_ok(q:stats().qt_exceeds, ">", 0, "qt_exceeds counts the binding quota")
q:close()
m:close()

-- watermarks (injected metric): off above high or below low, on again at or below mid
m = mon()
local wm = m:scheme { action = "stat", wmarks = { metric = "free_mem_rate", interval = "100ms",
  high = 800, mid = 600, low = 200 } }
local function tried_after(metric)
  wm:set_metric(metric)
  local n0 = wm:stats().nr_tried
  m:step(40)
  return wm:stats().nr_tried - n0, wm:stats().active
end
local n, active = tried_after(900)
t.ok(n == 0 and not active, "above high: off")
n, active = tried_after(700)
t.ok(n == 0 and not active, "between mid and high: stays off")
n, active = tried_after(500)
t.ok(n > 0 and active, "at or below mid: on (" .. n .. " tried)")
n, active = tried_after(700)
t.ok(n > 0 and active, "between mid and high: stays on")
n, active = tried_after(100)
t.ok(n == 0 and not active, "below low: off")
wm:set_metric(nil)
local real = damos.free_mem_rate()
t.ok(real >= 0 and real <= 1000, "free_mem_rate reads /proc/meminfo (" .. real .. "/1000)")
m:close()

-- filters: reject the first 32 MiB; first match wins
m = mon()
local f = m:scheme { action = "stat", filters = {
  { type = "addr", start = base, ["end"] = base + 32 * MiB, matching = true, allow = false } } }
local g = m:scheme { action = "stat", filters = {
  { type = "addr", start = base, ["end"] = base + 16 * MiB, allow = true },
  { type = "addr", start = base, ["end"] = base + 32 * MiB, allow = false } } }
m:step(20 * 3)
local lo = math.huge
for _, r in ipairs(f:tried_regions()) do lo = math.min(lo, r.start) end
t.cmp_ok(lo, ">=", base + 32 * MiB, "addr filter rejects the range")
t.is(covered(f:tried_regions()), 32 * MiB, "and only it")
t.is(covered(g:tried_regions()), 48 * MiB, "first match wins: 16 MiB allowed, 16 MiB rejected, rest allowed")
t.error_like(function() m:scheme { action = "stat", filters = { { type = "memcg" } } } end,
  "not supported", "unsupported filter types raise")
m:close()

-- anon, file and target filters, on two real segments
local seg = require "vmlab.seg"
local an = seg.anon("f-anon", "4m")
local path = os.tmpname()
local fi = assert(seg.file(path, { name = "f-file", create = "4m" }))
os.remove(path)
m = damon.monitor { targets = { { start = an.addr, ["end"] = an.addr + an.size },
  { start = fi.addr, ["end"] = fi.addr + fi.size } }, oracle = function() return false end, seed = 2 }
local no_anon = m:scheme { action = "stat", filters = { { type = "anon", allow = false } } }
local only_file = m:scheme { action = "stat", filters = { { type = "file", allow = true }, { type = "addr", allow = false } } }
local no_t2 = m:scheme { action = "stat", filters = { { type = "target", target = 2, allow = false } } }
m:step(20)
local function targets_of(sc)
  local seen = {}
  for _, r in ipairs(sc:tried_regions()) do seen[r.target] = (seen[r.target] or 0) + r["end"] - r.start end
  return seen
end
t.is_deeply(targets_of(no_anon), { [2] = 4 * MiB }, "anon rejected: only the file segment tried")
t.is_deeply(targets_of(only_file), { [2] = 4 * MiB }, "file allowed, the rest rejected")
t.is_deeply(targets_of(no_t2), { [1] = 4 * MiB }, "target 2 rejected")
m:close()
an:close()
fi:close()

-- scripted actions: function(region, target) -> true when it acted
m = mon()
local seen, bytes = 0, 0
local fnsc = m:scheme { freq = { 80, 100 }, action = function(r, tgt)
  seen = seen + 1
  assert(tgt == 1 and r["end"] > r.start and r.nr_accesses >= 0)
  bytes = bytes + (r["end"] - r.start)
  return r.start < base + 4 * MiB          -- act only on the first half of the hot range
end }
t.like(tostring(fnsc), "function", "a scripted scheme")
m:step(20 * 5)
local fs = fnsc:stats()
t.is(fs.nr_tried, seen, "the function ran once per tried region")
t.is(fs.sz_tried, bytes, "and saw their sizes")
t.ok(fs.nr_applied > 0 and fs.nr_applied < fs.nr_tried, "applied counts the regions it acted on ("
  .. fs.nr_applied .. " of " .. fs.nr_tried .. ")")
t.is(fs.last_error, nil, "declining is no error")
-- ages: where the script acted (first half of the hot range) the age
-- restarts each pass; where it declined, the region keeps ageing
local acted_age, declined_age = 0, 0
for _, r in ipairs(m:snapshot().targets[1].regions) do
  if r.nr_accesses >= 16 then
    if r["end"] <= base + 4 * MiB then acted_age = math.max(acted_age, r.age)
    elseif r.start >= base + 4 * MiB and r["end"] <= base + 8 * MiB then declined_age = math.max(declined_age, r.age) end
  end
end
t.cmp_ok(acted_age, "<=", 1, "a script that acted restarts the region's age (" .. acted_age .. ")")
t.cmp_ok(declined_age, ">=", 3, "a script that declined leaves it ageing (" .. declined_age .. ")")
local bad = m:scheme { action = function() error("boom") end }
t.error_like(function() m:step(20) end, "boom", "a raising script raises at the next step (on_error's default)")
t.like(bad:stats().last_error, "boom", "and its message is the scheme's last_error")
t.is(bad:stats().nr_applied, 0, "it is counted as failed")
m:close()

-- apply interval: every 300 ms of a 100 ms aggregation
m = mon()
local every = m:scheme { action = "stat" }
local third = m:scheme { action = "stat", apply_interval = "300ms" }
m:step(20 * 12)
t.is(every:stats().passes, 12, "without apply_interval: a pass per aggregation")
t.is(third:stats().passes, 4, "apply_interval 300ms: a pass every third aggregation")
m:close()
t.done_testing()
