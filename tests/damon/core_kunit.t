-- The region algorithms against the kernel's kunit cases (the seed's
-- damon-test.h and upstream mm/damon/core-test.h, vaddr-test.h).
local t = require "vmlab.tap"
local core = require "vmlab.damon.core"

local function R(s, e, nr, age) return { start = s, ["end"] = e, nr_accesses = nr or 0, age = age or 0 } end
local function bounds(list)
  local out = {}
  for _, r in ipairs(list) do out[#out + 1] = r.start; out[#out + 1] = r["end"] end
  return out
end
local function list_of(pairs_)
  local l = {}
  for i = 1, #pairs_, 2 do l[#l + 1] = R(pairs_[i], pairs_[i + 1]) end
  return l
end

-- damon_test_three_regions_in_vmas
local vmas = list_of { 10, 20, 20, 25, 200, 210, 210, 220, 300, 305, 307, 330 }
t.is_deeply(bounds(core.three_regions(vmas)), { 10, 25, 200, 220, 300, 330 }, "three regions of VMAs")
local r, err = core.three_regions(list_of { 10, 20, 20, 30 })
t.is(r, nil, "three_regions needs two gaps")
t.like(err, "two gaps", "and says so")
t.is_deeply(bounds(core.three_regions(list_of { 0, 10, 20, 30, 100, 110 })), { 0, 10, 20, 30, 100, 110 },
  "exactly two gaps")

-- damon_test_apply_three_regions1..4 (damon_set_regions upstream)
local before = { 10, 20, 20, 30, 50, 55, 55, 57, 57, 59, 70, 80, 80, 90, 90, 100 }
local cases = {
  { { 5, 27, 45, 55, 73, 104 }, { 5, 20, 20, 27, 45, 55, 73, 80, 80, 90, 90, 104 }, "slight change" },
  { { 5, 27, 56, 57, 65, 104 }, { 5, 20, 20, 27, 56, 57, 65, 80, 80, 90, 90, 104 }, "bigger change" },
  { { 5, 27, 61, 63, 65, 104 }, { 5, 20, 20, 27, 61, 63, 65, 80, 80, 90, 90, 104 }, "second area moved" },
  { { 5, 7, 30, 32, 65, 68 }, { 5, 7, 30, 32, 65, 68 }, "second and third areas moved" },
}
for i, c in ipairs(cases) do
  t.is_deeply(bounds(core.set_regions(list_of(before), list_of(c[1]))), c[2], "apply_three_regions" .. i .. ": " .. c[3])
end
-- core-test.h damon_test_set_regions
t.is_deeply(bounds(core.set_regions({ R(4, 16), R(24, 32) }, { R(8, 28) })), { 8, 16, 16, 24, 24, 28 },
  "set_regions fills the hole between regions")
t.is_deeply(bounds(core.set_regions({ R(0, 4096) }, { R(100, 5000) }, 4096)), { 0, 8192 },
  "set_regions aligns to min_sz")

-- damon_test_split_evenly
local l = core.split_evenly(0, 100, 10)
t.is(#l, 10, "split_evenly 0-100 in 10")
local ok = true
for i, x in ipairs(l) do ok = ok and x.start == (i - 1) * 10 and x["end"] == i * 10 end
t.ok(ok, "ten pieces of 10")
t.is_deeply(bounds(core.split_evenly(5, 59, 5)), { 5, 15, 15, 25, 25, 35, 35, 45, 45, 59 },
  "the last piece takes the rest")
t.is(core.split_evenly(5, 6, 2), nil, "pieces smaller than min_sz fail")
-- exactly n pieces, the last taking the remainder (vaddr since its fix)
t.is_deeply(bounds(core.split_evenly(0, 3, 2)), { 0, 1, 1, 3 }, "0-3 in 2 is [0,1) [1,3)")
t.is(#core.split_evenly(0, 1000, 7), 7, "0-1000 in 7: seven pieces")
t.is_deeply(bounds(core.split_evenly(0, 3, 1, 4)), { 0, 3 }, "one piece is the region, whatever min_sz")
t.is(core.split_evenly(0, 100, 0), nil, "zero pieces fail")

-- damon_test_split_at
local left, right = core.split_at(R(0, 100, 7, 3), 25)
t.is_deeply({ left.start, left["end"], right.start, right["end"] }, { 0, 25, 25, 100 }, "split_at")
t.is_deeply({ left.nr_accesses, right.nr_accesses, left.age, right.age }, { 7, 7, 3, 3 }, "both halves keep the counts")
t.error_like(function() core.split_at(R(0, 100), 100) end, "inside the region", "split_at outside raises")

-- damon_test_merge_two
local m = core.merge_two(R(0, 100, 10, 9), R(100, 300, 20, 21))
t.is_deeply(m, R(0, 300, 16, 17), "merge_two: size-weighted nr_accesses and age")
t.error_like(function() core.merge_two(R(0, 100), R(200, 300)) end, "not adjacent", "merge_two of distant regions")

-- damon_test_merge_regions_of
local sa = { 0, 100, 114, 122, 130, 156, 170, 184 }
local ea = { 100, 112, 122, 130, 156, 170, 184, 230 }
local nrs = { 0, 0, 10, 10, 20, 30, 1, 2 }
local list = {}
for i = 1, #sa do list[i] = R(sa[i], ea[i], nrs[i]) end
local merged = core.merge_regions(list, 9, 9999)
t.is_deeply(bounds(merged), { 0, 112, 114, 130, 130, 156, 156, 170, 170, 230 }, "merge_regions_of")
t.is(list[1]["end"], 100, "the input list is unchanged")
merged = core.merge_regions(list, 9, 100)
t.is(merged[1]["end"], 100, "sz_limit stops a merge")

-- ages: similar rate -> +1, a changed rate -> 0
local aged = core.merge_regions({ { start = 0, ["end"] = 10, nr_accesses = 5, last_nr_accesses = 5, age = 3 },
  { start = 20, ["end"] = 30, nr_accesses = 9, last_nr_accesses = 1, age = 3 } }, 2, 1000)
t.is(aged[1].age, 4, "a similar access rate ages the region")
t.is(aged[2].age, 0, "a changed access rate restarts the age")

-- damon_test_split_regions_of
t.cmp_ok(#core.split_regions({ R(0, 22) }, 2, 1, 1), "<=", 2, "split into at most 2")
t.cmp_ok(#core.split_regions({ R(0, 220) }, 4, 1, 1), "<=", 4, "split into at most 4")
local pieces = core.split_regions({ R(0, 1000) }, 2, 1, 42)
t.is(#pieces, 2, "a big region splits in two")
local frac = (pieces[1]["end"] - pieces[1].start) / 1000
t.ok(frac >= 0.1 and frac <= 0.9, "at a 10-90% point (" .. frac .. ")")
t.is_deeply(core.split_regions({ R(0, 1000) }, 3, 1, 42), core.split_regions({ R(0, 1000) }, 3, 1, 42),
  "the same seed splits the same way")
t.is(#core.split_regions({ R(0, 2) }, 3, 1, 1), 1, "regions of 2*min_sz are not split")
t.error_like(function() core.merge_regions({ R(10, 20), R(0, 5) }, 1, 10) end, "sorted", "unsorted input raises")
t.done_testing()
