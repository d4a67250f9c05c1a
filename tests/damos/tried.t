-- sc:tried_regions(): the regions the scheme tried in its last pass, as the
-- kernel's tried_regions; damos_effect.smaps adds sizes, not page sizes.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"
local vmlab = require "vmlab"
local effect = require "vmlab.damos_effect"
local MiB = 1 << 20
local base, size = 0x100000000, 64 * MiB

local function covered(list)
  local n = 0
  for _, r in ipairs(list) do n = n + (r["end"] - r.start) end
  return n
end
local m = damon.monitor { targets = { { start = base, ["end"] = base + size } },
  oracle = function(addr) return addr < base + 8 * MiB end, seed = 2 }
local all = m:scheme { action = "stat" }
local q = m:scheme { action = "pageout", quota = { sz = "4m", reset_interval = "1s" } }
m:step(20)
local tr = all:tried_regions()
t.is(#tr, all:stats().nr_tried, "stat: one tried region per region of the pass (" .. #tr .. ")")
t.is(covered(tr), size, "covering the whole target")
t.ok(tr[1].target == 1 and tr[1].nr_accesses and tr[1].age, "each with its target, counts and age")
t.is(covered(q:tried_regions()), 4 * MiB, "a quota of 4 MiB: its 4 MiB tried")
m:step(20)
t.is(q:stats().sz_tried, 4 * MiB, "the next aggregation, quota used up: nothing more tried")
t.is(covered(q:tried_regions()), 4 * MiB, "and tried_regions still shows the last pass's")
t.is(#all:tried_regions(), all:stats().nr_tried - #tr, "stat: only the last pass's regions")
m:close()

-- smaps over a segment split into many VMAs: sizes add up, page sizes do not
local s = seg.anon("tried", "8m")
s:touch("write")
for i = 0, 7, 2 do s:protect("r", { offset = i * MiB, length = MiB }) end
local e = effect.smaps(s)
t.cmp_ok(e.vmas, ">", 1, "the segment spans several VMAs (" .. e.vmas .. ")")
if e.partial then   -- a VMA merged with a neighbour: its figures include the neighbour's
  t.cmp_ok(e.Rss, ">=", 8 * MiB, "Rss adds up over them (with a merged neighbour's)")
else
  t.is(e.Rss, 8 * MiB, "Rss adds up over them")
end
t.is(e.KernelPageSize, vmlab.pagesize(), "KernelPageSize is the page size, not a sum")
t.is(e.MMUPageSize, vmlab.pagesize(), "MMUPageSize too")
s:close()
t.done_testing()
