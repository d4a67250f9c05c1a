-- Against the peer: miss ratios of libCacheSim's cachesim (commit aa0fc40,
-- built here, run as
--   cachesim t.oracleGeneral oracleGeneral lru,fifo,clock,lfu,twoq,arc,sieve,belady \
--            50,200,1000,4000 --ignore-obj-size 1
-- on this test's trace written through trace.convert to oracleGeneral).
-- Those policies agree to the 4 decimals cachesim prints; LIRS and S3-FIFO
-- differ from libCacheSim's in small details (see DESIGN.md).
local tap = require "vmlab.tap"
local trace = require "vmlab.trace"

local refs = {}
math.randomseed(5)
for i = 1, 200000 do
  local u = math.random()
  local p = u < 0.5 and math.floor(3000 * math.random() ^ 3) or u < 0.8 and (5000 + i % 800) or math.random(20000)
  refs[i] = p + 1
end

local peer = {
  lru = { 0.9525, 0.9050, 0.6966, 0.2743 },
  fifo = { 0.9600, 0.9162, 0.7362, 0.3583 },
  clock = { 0.9487, 0.9001, 0.6841, 0.2586 },
  lfu = { 0.8894, 0.8228, 0.6156, 0.2084 },
  ["2q"] = { 0.8938, 0.8285, 0.6148, 0.2489 },
  arc = { 0.8876, 0.8193, 0.5849, 0.2230 },
  sieve = { 0.8905, 0.8196, 0.6145, 0.2084 },
  opt = { 0.8230, 0.6708, 0.3817, 0.1480 },
}
local sizes = { 50, 200, 1000, 4000 }
for _, name in ipairs { "lru", "fifo", "clock", "lfu", "2q", "arc", "sieve", "opt" } do
  local res = trace.simulate(refs, { policy = name, frames = sizes })
  local got = {}
  for i, r in ipairs(res) do got[i] = tonumber(string.format("%.4f", r.miss_ratio)) end
  tap.is_deeply(got, peer[name], name .. " as libCacheSim's at 50, 200, 1000, 4000 frames")
end
tap.done_testing()
