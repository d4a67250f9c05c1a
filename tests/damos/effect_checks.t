-- vmlab.damos_effect: smaps fields summed over a segment's VMAs, process
-- RSS and residency, checked against what the test does to the memory.
local t = require "vmlab.tap"
local seg = require "vmlab.seg"
local effect = require "vmlab.damos_effect"
local MiB = 1 << 20

local s = seg.anon("eff", "8m")
local e0 = effect.smaps(s)
if e0.partial then
  -- the kernel merged the segment's VMA with a neighbour: Rss would be theirs too
  t.skip_all("the segment's VMA merged with a neighbour here")
end
t.is(e0.Rss, 0, "untouched: Rss 0")
t.is(effect.residency(s), 0, "residency 0")
local rss0 = effect.rss()
s:touch { op = "write", all = true }
local e1 = effect.smaps(s)
t.is(e1.Rss, 8 * MiB, "touched: Rss 8 MiB")
t.is(effect.residency(s), 1, "residency 1")
t.cmp_ok(effect.rss() - rss0, ">=", 7 * MiB, "process RSS grew by about 8 MiB")
if require("vmlab").sanitized then
  t.skip("AddressSanitizer makes mlock() a no-op", 3)
else
  t.ok(s:lock { offset = "2m", length = "2m" }, "lock 2 MiB in the middle")
  local e2 = effect.smaps(s)
  t.is(e2.Locked, 2 * MiB, "Locked summed over the split VMAs")
  t.cmp_ok(e2.vmas, ">=", 3, "mlock split the VMA (" .. e2.vmas .. ")")
end
t.is(effect.smaps { start = s.addr, ["end"] = s.addr + s.size }.Rss, 8 * MiB, "a {start, end} range works too")
s:close()
t.done_testing()
