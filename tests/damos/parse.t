-- damos.parse: the seed's two rule formats into scheme specs, and errors
-- naming the line.
local t = require "vmlab.tap"
local damos = require "vmlab.damos"
local HUGE = math.huge

-- Appendix D: six fields
local specs, err = damos.parse [[
# Appendix D examples
na 500M 90 99 100ms mlock

2M na 0 25 100ms madv_nohugepage   # a trailing comment
na na 0 10 100ms madv_pageout
]]
t.ok(specs, "Appendix D rules parse " .. tostring(err))
t.is(#specs, 3, "three rules, comments and blanks skipped")
t.is_deeply(specs[1].size, { 0, 500 << 20 }, "na 500M")
t.is_deeply(specs[1].freq, { 90, 99 }, "90 99 percent")
t.is_deeply(specs[1].age, { "100000us", HUGE }, "duration: a minimum age as time")
t.is(specs[1].action, "lock", "mlock is lock")
t.is(specs[2].action, "nohugepage", "madv_nohugepage")
t.is_deeply(specs[2].size, { 2 << 20, HUGE }, "2M na")
t.is(specs[3].action, "pageout", "madv_pageout")

-- the evaluation: seven fields (ethp and prcl)
specs, err = damos.parse [[
# ethp
2M null    5 null    null null    hugepage
2M null    null 5    1s null      nohugepage
# prcl
4K null    null 5    5s null      pageout
4k max min 50 3 10 stat
1G max 0 100 min max willneed
]]
t.ok(specs, "evaluation rules parse " .. tostring(err))
t.is(#specs, 5, "five rules")
t.is_deeply(specs[1].freq, { 5, 100 }, "5 null: at least 5 %")
t.is_deeply(specs[1].age, { 0, HUGE }, "null null age")
t.is(specs[1].action, "hugepage", "hugepage")
t.is_deeply(specs[2].freq, { 0, 5 }, "null 5")
t.is_deeply(specs[2].age, { "1000000us", HUGE }, "1s null")
t.is_deeply(specs[3].size, { 4096, HUGE }, "4K")
t.is_deeply(specs[3].age, { "5000000us", HUGE }, "5s")
t.is_deeply(specs[4].age, { 3, 10 }, "plain ages count aggregations")
t.is_deeply(specs[4].freq, { 0, 50 }, "min 50")
t.is_deeply(specs[5].size, { 1 << 30, HUGE }, "1G max")
t.is(specs[5].action, "willneed", "willneed")

-- every action spelling
for _, pair in ipairs { { "madv_pageout", "pageout" }, { "mlock", "lock" }, { "munlock", "unlock" },
  { "unlock", "unlock" }, { "madv_hugepage", "hugepage" }, { "madv_willneed", "willneed" },
  { "madv_cold", "cold" }, { "cold", "cold" }, { "stat", "stat" }, { "collapse", "collapse" } } do
  local s = damos.parse("na na na na na " .. pair[1])
  t.is(s and s[1].action, pair[2], pair[1] .. " -> " .. pair[2])
end
t.is_deeply(damos.parse "# only a comment\n\n", {}, "nothing but comments: no rules")

-- errors name the line and the fault
local function bad(text, pat, name)
  local s, e = damos.parse(text)
  t.is(s, nil, name .. ": nil")
  t.like(e, pat, name .. ": " .. tostring(e))
end
bad("na na 0 10 100ms pageout\nna na 0 10 pageout", "^line 2: 5 fields", "too few fields")
bad("na na 0 10 100ms frobnicate", "^line 1: unknown action 'frobnicate'", "unknown action")
bad("\n\nxx na 0 10 100ms pageout", "^line 3: bad min size 'xx'", "bad size")
bad("na na 0 120 100ms pageout", "^line 1: bad max frequency '120'", "frequency over 100")
bad("na na 0 10 soon pageout", "^line 1: bad min age 'soon'", "bad duration")
bad("2M na 0 10 1 2 3 4 pageout", "too many fields", "too many fields")
bad("4M 2M 0 10 100ms pageout", "minimum above its maximum", "min > max")
t.done_testing()
