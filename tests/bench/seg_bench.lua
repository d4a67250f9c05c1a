-- vmlab's side of tests/bench/touch and tests/bench/where:
--   vmlab seg_bench.lua write|firsttouch|where SIZE  -> seconds
local seg = require "vmlab.seg"
local vmlab = require "vmlab"
local what, size = arg[1], arg[2] or "1g"
local s = seg.anon("bench", size)
local t0, t1
if what == "write" then
  s:touch({ op = "write", all = true })
  t0 = vmlab.now()
  s:touch({ op = "write", all = true })
  t1 = vmlab.now()
elseif what == "firsttouch" then
  t0 = vmlab.now()
  s:touch("write")
  t1 = vmlab.now()
elseif what == "where" then
  s:touch({ op = "write", all = true })
  t0 = vmlab.now()
  local w = s:where()
  t1 = vmlab.now()
  assert(#w == s.size // vmlab.pagesize())
else
  error("usage: seg_bench.lua write|firsttouch|where [size]")
end
print(string.format("%.6f", t1 - t0))
