-- Sizes, times, counts and strings as every binding reads them: overflow,
-- NaN, infinity, negative numbers, out-of-range counts and embedded NULs
-- are errors naming the input, never a wrapped or cut value.
local t = require "vmlab.tap"
local vmlab = require "vmlab"
local seg = require "vmlab.seg"
local numa = require "vmlab.numa"
local damon = require "vmlab.damon"
local workload = require "vmlab.workload"

local nan, inf = 0 / 0, math.huge

-- sizes
local bad_sizes = {
  { "18446744073709551615", "'18446744073709551615' overflows", "2^64-1 (was -1)" },
  { "9223372036854775808", "'9223372036854775808' overflows", "2^63 (was math.mininteger)" },
  { "16777216t", "overflows", "a suffix past 2^63" },
  { "4\0k", 'size "4\\0k" contains a NUL byte', "an embedded NUL (was 4)" },
  { nan, "size is NaN", "NaN" },
  { inf, "size is infinite", "infinity" },
  { -inf, "size is minus infinite", "minus infinity" },
  { 1e300, "overflows", "a float past 2^63" },
  { -1, "must not be negative %(got %-1%)", "a negative integer" },
  { 2.5, "not a whole number", "a fraction" },
}
for _, c in ipairs(bad_sizes) do
  t.error_like(function() vmlab.size(c[1]) end, c[2], "vmlab.size: " .. c[3])
end
t.is(vmlab.size("9223372036854775807"), math.maxinteger, "2^63-1 is the largest size")
t.is(vmlab.size(4096.0), 4096, "a whole float is a size")
t.error_like(function() seg.anon("s", "4\0k") end, "NUL", "seg.anon: a size with a NUL")
t.error_like(function() seg.anon("s", "4k", { addr = nan }) end, "bad option 'addr' %(size is NaN", "an option size names its key")

-- times
local bad_times = {
  { nan, "time is NaN", "NaN" },
  { inf, "time is infinite", "infinity" },
  { -1, "must not be negative", "negative" },
  { "1e999s", "too long", "a string past a double" },
  { 2e9, "too long", "past 10^9 s" },
  { "5\0ms", 'time "5\\0ms" contains a NUL byte', "an embedded NUL" },
}
for _, c in ipairs(bad_times) do
  t.error_like(function() vmlab.snooze(c[1]) end, c[2], "vmlab.snooze: " .. c[3])
  t.error_like(function() vmlab.time(c[1]) end, c[2], "vmlab.time: " .. c[3])
end
local s = seg.anon("target", "1m")
t.error_like(function() damon.monitor { targets = { s }, sample = nan } end, "bad option 'sample' %(time is NaN",
  "damon.monitor sample=NaN")
t.error_like(function() damon.monitor { targets = { s }, aggr = inf } end, "bad option 'aggr' %(time is infinite",
  "damon.monitor aggr=inf")
  t.error_like(function() damon.monitor { targets = { s }, budget = nan } end, "budget.*NaN", "damon budget=NaN")
  t.error_like(function() damon.monitor { targets = { s }, oracle = { { start = s.addr, ["end"] = s.addr + s.size, p = nan } } } end,
    "NaN", "pattern probability NaN")

-- counts: range-checked before they narrow
t.error_like(function() workload.new { target = s, threads = 2 ^ 32 + 1 } end,
  "bad option 'threads' %(4294967297 is out of range %(1 to 256%)%)", "threads=2^32+1 (was 1)")
t.error_like(function() workload.new { target = s, threads = -1 } end, "'threads' %(%-1 is out of range", "threads=-1")
t.error_like(function() workload.new { target = s, rate = nan } end, "'rate' %(NaN", "workload rate=NaN")
t.error_like(function() workload.new { target = s, hot_share = nan } end, "'hot_share' %(NaN", "hot_share=NaN")
t.error_like(function() workload.new { target = s, zipf = inf } end, "'zipf' %(infinity", "zipf=inf")
t.error_like(function() s:touch { order = "stride", stride = 0 } end, "'stride' %(0 is out of range", "stride=0")
t.error_like(function() s:move(2 ^ 32) end, "out of range", "a node past 32 bits (was node 0)")
t.error_like(function() numa.migrate(0, 0, 2 ^ 32) end, "out of range", "a pid past 32 bits (was 0: ourselves)")
  t.error_like(function() damon.monitor { targets = { s }, max_regions = -1 } end, "max_regions.*out of range", "max_regions=-1")
  t.error_like(function() damon.monitor { targets = { s }, max_regions = 2 ^ 32 + 5 } end, "max_regions.*out of range",
    "max_regions=2^32+5")

-- strings handed to C
t.error_like(function() seg.anon("a\0b", "4k") end, 'string "a\\0b" contains a NUL byte', "a segment name with a NUL (was 'a')")
t.error_like(function() seg.get("target\0x") end, "NUL", "seg.get with a NUL does not find 'target'")
t.error_like(function() seg.file("/tmp\0/x") end, "NUL", "a path with a NUL")
t.error_like(function() s:protect("r\0w") end, "NUL", "a protection with a NUL")
t.error_like(function() s:protect("rr") end, "bad protection 'rr'", "a protection letter twice")
t.error_like(function() s:protect("rwxr") end, "bad protection", "four letters")
t.error_like(function() numa.parse_nodes("0\0-5") end, "NUL", "a node list with a NUL")
t.error_like(function() require("vmlab.proc").child("a\0b") end, "NUL", "a child name with a NUL (was 'a')")
t.error_like(function() require("vmlab.proc").signal("TERM\0x") end, "NUL", "a signal name with a NUL")

-- messages that say what they mean
t.error_like(function() numa.cpus(-1) end, "cpu number %-1 out of range", "numa.cpus(-1) speaks of cpus")
t.error_like(function() numa.cpus("0-99999") end, "cpu range", "a cpu range speaks of cpus")
t.error_like(function() numa.parse_nodes(-1) end, "node number %-1 out of range", "a node is a node")
s:close()
t.done_testing()
