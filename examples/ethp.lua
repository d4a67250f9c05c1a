-- ethp: the seed's efficient THP, "Use huge pages if a region >2MB shows
-- >5% access rate, use regular pages if a region >2MB shows <5% access
-- rate for >1 second", parsed from the seed's own text, on a 64 MiB anon
-- segment of which a workload keeps 16 MiB hot (and 16 MiB more were
-- written once, then left idle).
--
-- Two phases, because the prot sampler cannot show huge pages while it
-- samples: it mprotects single pages, and that splits every huge PMD
-- mapping it touches.
--   1. learn: the prot backend samples the real workload for 1.5 s while
--      the two rules mark what they match (MADV_HUGEPAGE on the hot part,
--      MADV_NOHUGEPAGE on the cold part), as DAMOS would.
--   2. act: with the sampler stopped, the pattern it learned is replayed
--      (replay backend, apply=true: no page is mprotected) through a third
--      rule, collapse (MADV_COLLAPSE: the hot pages become huge now rather
--      than when khugepaged comes by).
-- Then it prints the segment's AnonHugePages from /proc/self/smaps, for
-- the hot part and the cold part.
local damon = require "vmlab.damon"
local damos = require "vmlab.damos"
local seg = require "vmlab.seg"
local wl = require "vmlab.workload"
local effect = require "vmlab.damos_effect"
local vmlab = require "vmlab"
local MiB = 1 << 20

local rules = assert(damos.parse [[
# ethp: Use huge pages if a region >2MB shows >5% access rate, use regular
# pages if a region >2MB shows <5% access rate for >1 seconds.
2M null    5 null    null null    hugepage
2M null    null 5    1s null      nohugepage
# not in the seed: collapse what is hot now instead of waiting for khugepaged
2M null    5 null    null null    collapse
]])

local thp = io.open("/sys/kernel/mm/transparent_hugepage/enabled")
local mode = thp and thp:read("l") or "unavailable"
if thp then thp:close() end
print("THP: " .. mode)
if not mode:match("%[madvise%]") and not mode:match("%[always%]") then
  print("THP is not in madvise or always mode here: no huge pages to show")
  return
end

local s = seg.anon("ethp", "64m", { align = "2m" })
local hot_off, hot_len = 16 * MiB, 16 * MiB
local function huge(off, len)
  return effect.smaps { start = s.addr + off, ["end"] = s.addr + off + len }.AnonHugePages or 0
end
s:touch { op = "write", offset = 0, length = "16m" }    -- the cold part: present, then idle
local w = wl.new { target = s, pattern = "hotspot", hot = { offset = hot_off, length = hot_len }, hot_share = 1,
  op = "write" }

-- 1. learn on the real workload, marking as the seed's two rules say
local m = damon.monitor { targets = { s }, sample = "5ms", aggr = "50ms", budget = 0.3, min_regions = 32, seed = 1 }
local hp = m:scheme(rules[1])
local np = m:scheme(rules[2])
local t0 = vmlab.now()
w:start()
m:start()
vmlab.snooze("1.5s")
m:stop()
local learned = m:snapshot()
local t1 = vmlab.now()
local function last_pass(sc)
  local n = 0
  for _, r in ipairs(sc:tried_regions()) do n = n + (r["end"] - r.start) end
  return n // MiB
end
for i, sc in ipairs { hp, np } do
  local st = sc:stats()
  print(string.format("rule %d (%s): %d passes, %d MiB applied in all, %d MiB in the last", i, rules[i].action,
    st.passes, st.sz_applied // MiB, last_pass(sc)))
end
local max_nr = 50 // 5                                   -- samples per aggregation
local hot_seen = 0
for _, r in ipairs(learned.targets[1].regions) do
  if r.nr_accesses * 100 >= 5 * max_nr then hot_seen = hot_seen + (r["end"] - r.start) end
end
print(string.format("learned in %.1f s: %d MiB at >= 5 %% access rate (the workload's hot part: 16 MiB)",
  t1 - t0, hot_seen // MiB))
local before = huge(0, s.size)

-- 2. act: the learned pattern replayed through the collapse rule
local function learned_hot(addr)
  for _, r in ipairs(learned.targets[1].regions) do
    if addr >= r.start and addr < r["end"] then return r.nr_accesses * 100 >= 5 * max_nr end
  end
  return false
end
local rm = damon.monitor { targets = { { start = s.addr, ["end"] = s.addr + s.size } }, oracle = learned_hot,
  min_regions = 32, seed = 1 }
local spec = { apply = true }                            -- replay records unless told to apply
for k, v in pairs(rules[3]) do spec[k] = v end
local cp = rm:scheme(spec)
rm:step(20 * 5)
local st = cp:stats()
local t2 = vmlab.now()
print(string.format("rule 3 (collapse) on the learned pattern: %d MiB in the last pass, %.2f s%s", last_pass(cp),
  t2 - t1, st.last_error and (" (" .. st.last_error .. ")") or ""))
w:close()

local hot_huge, cold_huge = huge(hot_off, hot_len), huge(0, hot_off) + huge(hot_off + hot_len, s.size - hot_off - hot_len)
print(string.format("AnonHugePages: %d MiB after sampling -> %d MiB after collapse (hot 16 MiB: %d MiB huge, cold: %d MiB)",
  before // MiB, (hot_huge + cold_huge) // MiB, hot_huge // MiB, cold_huge // MiB))
print(string.format("rss %d MiB of 64 MiB; %.1f s in all", effect.smaps(s).Rss // MiB, vmlab.now() - t0))
if hot_huge == 0 then
  print("note: no huge pages: MADV_COLLAPSE (Linux 6.1) failed or the learned pattern missed the hot part")
end
cp:close()
rm:close()
hp:close(); np:close()
m:close()
s:close()
