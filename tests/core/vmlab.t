-- require "vmlab": sizes, times, clock, process basics.
local t = require "vmlab.tap"
local vmlab = require "vmlab"

t.like(vmlab.version, "^%d+%.%d+%.%d+$", "version is x.y.z")
t.is(vmlab.pagesize(), 4096, "pagesize")
t.is(vmlab.size(0), 0, "size 0")
t.is(vmlab.size(12345), 12345, "size of an integer is itself")
t.is(vmlab.size("4k"), 4096, "4k")
t.is(vmlab.size("4K"), 4096, "4K")
t.is(vmlab.size("3m"), 3 * 1024 * 1024, "3m")
t.is(vmlab.size("2g"), 2 * 1024 ^ 3 // 1, "2g")
t.is(vmlab.size("1t"), 1024 ^ 4 // 1, "1t")
t.is(vmlab.size("10p"), 10 * vmlab.pagesize(), "10p is pages")
t.is(vmlab.size("0x2000"), 8192, "hex")
t.is(vmlab.size(4096.0), 4096, "a whole float is accepted")

local bad = {
  { "4x", "unknown suffix" }, { "4kb", "trailing characters" }, { "", "empty" },
  { "-1k", "negative" }, { "k", "does not start with a number" },
  { "99999999999999999999", "overflows" }, { "20000000000g", "overflows" },
  { "1.5m", "not a whole number" },
}
for _, c in ipairs(bad) do
  t.error_like(function() vmlab.size(c[1]) end, c[2], "size '" .. c[1] .. "' rejected: " .. c[2])
end
t.error_like(function() vmlab.size(-5) end, "must not be negative", "negative integer rejected")
t.error_like(function() vmlab.size(1.5) end, "whole number", "fractional bytes rejected")
t.error_like(function() vmlab.size({}) end, "size %(integer or string", "a table is not a size")

t.is(vmlab.time("5ms"), 0.005, "5ms")
t.is(vmlab.time("250us"), 0.00025, "250us")
t.is(vmlab.time("2"), 2.0, "bare seconds")
t.is(vmlab.time("1m"), 60.0, "a minute")
t.is(vmlab.time(0.5), 0.5, "a number is seconds")
t.error_like(function() vmlab.time("3h") end, "unknown unit", "hours are not a unit")
t.error_like(function() vmlab.time(-1) end, "negative", "negative time rejected")

t.is(vmlab.fmtsize(4096), "4 KiB", "fmtsize 4 KiB")
t.is(vmlab.fmtsize("1536k"), "1.5 MiB", "fmtsize takes size strings")
t.is(vmlab.fmtsize(7), "7 B", "fmtsize bytes")

local f = io.open("/proc/self/stat")
local selfpid = f and tonumber(f:read("a"):match("^(%d+)"))
if f then f:close() end
t.is(vmlab.pid(), selfpid, "pid is this process")

local t0 = vmlab.now()
vmlab.snooze("30ms")
local dt = vmlab.now() - t0
t.ok(dt >= 0.029 and dt < 1, "snooze 30ms slept " .. dt)
t.error_like(function() vmlab.snooze("soon") end, "does not start with a number", "snooze checks its time")
t.type_ok(vmlab.pause, "function", "pause exists")
t.is(vmlab.verbose, false, "not verbose by default")
t.done_testing()
