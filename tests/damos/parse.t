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
t.is_deeply(specs[1].freq, { 90, 100 }, "90 99: 99 tops Appendix D's 0-99 scale")
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
-- the remaining spellings: plain names, madv_ on each, any case
for _, name in ipairs(damos.actions) do
  local s = damos.parse("na na na na na " .. name)
  t.is(s and s[1].action, name, name)
  s = damos.parse("na na na na na madv_" .. name:upper())
  t.is(s and s[1].action, name, "madv_" .. name:upper())
end
t.is(#damos.actions, 11, "eleven actions")
t.is_deeply(damos.parse "# only a comment\n\n", {}, "nothing but comments: no rules")
t.is_deeply(damos.parse "", {}, "empty text: no rules")

-- na, null, min, max: open bounds, and the lowest or highest value anywhere
specs = assert(damos.parse [[
null NA null NULL null Null stat
min max min max min max stat
max max max max max max stat
min min min min min min stat
]])
t.is_deeply({ specs[1].size, specs[1].freq, specs[1].age }, { { 0, HUGE }, { 0, 100 }, { 0, HUGE } },
  "na and null, any case: open")
t.is_deeply({ specs[2].size, specs[2].freq, specs[2].age }, { { 0, HUGE }, { 0, 100 }, { 0, HUGE } },
  "min max: the whole range")
t.is_deeply({ specs[3].size, specs[3].freq, specs[3].age }, { { HUGE, HUGE }, { 100, 100 }, { HUGE, HUGE } },
  "max max: only the highest")
t.is_deeply({ specs[4].size, specs[4].freq, specs[4].age }, { { 0, 0 }, { 0, 0 }, { 0, 0 } },
  "min min: only the lowest")

-- units: sizes k m g t (and the B or iB of the seed's prose), p pages; times us ms s m
specs = assert(damos.parse [[
4k 4K 0 100 na na stat   # as written in the evaluation
4KB 2MiB 0 100 na na stat
1g 1t 0 100 na na stat
2p 3P 0 100 na na stat
0 0 0 100 250us 2m stat
4096 8192 0 100 1.5s 90s stat
na na 12.5 50% 0 7 stat
]])
t.is_deeply(specs[1].size, { 4096, 4096 }, "4k 4K")
t.is_deeply(specs[2].size, { 4096, 2 << 20 }, "4KB 2MiB")
t.is_deeply(specs[3].size, { 1 << 30, 1 << 40 }, "1g 1t")
t.is_deeply(specs[4].size, { 2 * 4096, 3 * 4096 }, "2p 3P: pages")
t.is_deeply(specs[5].age, { "250us", "120000000us" }, "250us 2m")
t.is_deeply(specs[6].size, { 4096, 8192 }, "plain bytes")
t.is_deeply(specs[6].age, { "1500000us", "90000000us" }, "1.5s 90s")
t.is_deeply(specs[7].freq, { 12.5, 50 }, "fractional and % frequencies")
t.is_deeply(specs[7].age, { 0, 7 }, "plain ages: aggregations")
t.is(specs[7].text, "na na 12.5 50% 0 7 stat", "each spec keeps its line")

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
bad("4M 2M 0 10 100ms pageout", "^line 1: a minimum size above its maximum", "min > max size")
bad("na na 50 10 100ms pageout", "a minimum frequency above its maximum", "min > max frequency")
bad("na na 0 10 5s 1s pageout", "a minimum age above its maximum", "min > max age")
bad("na na 0 10 8 3 pageout", "a minimum age above its maximum", "min > max aggregations")
bad("na na 0 100 100ms pageout", "^line 1: bad max frequency '100' %(0 to 99%)", "Appendix D tops at 99")
bad("na na 0 101 na na pageout", "bad max frequency '101' %(0 to 100%)", "the evaluation at 100")
bad("-4K na 0 10 100ms pageout", "bad min size '%-4K'", "negative size")
bad("1.5M na 0 10 100ms pageout", "bad min size '1.5M'", "fractional size")
bad("4Q na 0 10 100ms pageout", "bad min size '4Q'", "unknown unit")
bad("na na 0 10 -1 pageout", "bad min age '%-1'", "negative duration")
bad("na na 0 10 100xs pageout", "bad min age '100xs'", "unknown time unit")
bad("na na x 10 100ms pageout", "bad min frequency 'x'", "bad frequency")
bad("pageout", "^line 1: 1 field,", "one field")
bad("na na 0 10 100ms pageout\r\n\r\n# c\nna na 0 10 100ms", "^line 4: 5 fields", "CRLF lines and comments count")
t.done_testing()
