-- Miss-ratio curves: the one-pass LRU curve equals LRU run at each size,
-- Mattson's OPT curve equals OPT at each size, SHARDS is close to exact.
local t = require "vmlab.trace"
local tap = require "vmlab.tap"
local trace = t

local function gen(seed, n, pages)
  math.randomseed(seed)
  local r = {}
  for i = 1, n do
    local u = math.random()
    if u < 0.5 then r[i] = math.floor(pages * math.random() ^ 3) + 1
    elseif u < 0.8 then r[i] = pages + i % (pages // 2)
    else r[i] = math.random(2 * pages) end
  end
  return r
end

for seed = 1, 3 do
  local r = gen(seed, 5000 * seed, 300 * seed)
  local sizes = {}
  for s = 1, 2000, 37 do sizes[#sizes + 1] = s end
  for _, method in ipairs { "lru", "opt" } do
    local c = trace.mrc(r, { method = method, sizes = sizes })
    local runs = trace.simulate(r, { policy = method, frames = sizes })
    local bad
    for i, s in ipairs(sizes) do
      local want = runs[i].faults / #r
      if math.abs(c.miss_ratio[i] - want) > 1e-12 then
        bad = bad or string.format("%d frames: curve %.6f, simulation %.6f", s, c.miss_ratio[i], want)
      end
    end
    tap.ok(not bad, string.format("trace %d: the one-pass %s curve equals %d simulations%s", seed, method,
      #sizes, bad and (": " .. bad) or ""))
  end
end

-- the LRU curve across compactions (many more references than pages)
do
  local r = {}
  math.randomseed(7)
  for i = 1, 300000 do r[i] = math.random(50) + (i % 3 == 0 and math.random(20000) or 0) end
  local sizes = { 1, 10, 50, 100, 1000, 5000, 19000 }
  local c = trace.mrc(r, { sizes = sizes })
  local runs = trace.simulate(r, { policy = "lru", frames = sizes })
  local ok = true
  for i in ipairs(sizes) do ok = ok and math.abs(c.miss_ratio[i] - runs[i].faults / #r) < 1e-12 end
  tap.ok(ok, "LRU curve exact over 300k references (the time bitmap compacts)")

end

-- SHARDS on a Zipf-headed trace: mean absolute error over 50 sizes
do
  math.randomseed(11)
  local N, P, r = 400000, 40000, {}
  local H = 0
  for k = 1, P do H = H + 1 / k end
  local cdf, acc = {}, 0
  for k = 1, P do acc = acc + 1 / k / H; cdf[k] = acc end
  local function zipf()
    local u, lo, hi = math.random(), 1, P
    while lo < hi do local mid = (lo + hi) // 2; if cdf[mid] < u then lo = mid + 1 else hi = mid end end
    return lo
  end
  for i = 1, N do
    local u = math.random()
    r[i] = u < 0.5 and zipf() or u < 0.8 and (P + i % 4000) or math.random(P * 2)
  end
  local sizes = {}
  for k = 1, 50 do sizes[k] = k * 1000 end
  local exact = trace.mrc(r, { sizes = sizes })
  local function mae(c)
    local e = 0
    for i in ipairs(sizes) do e = e + math.abs(c.miss_ratio[i] - exact.miss_ratio[i]) end
    return e / #sizes
  end
  local e1 = mae(trace.mrc(r, { method = "shards", rate = 0.1, sizes = sizes, seed = 3 }))
  tap.ok(e1 < 0.02, string.format("SHARDS at 10%%: mean absolute error %.4f", e1))
  local e2 = mae(trace.mrc(r, { method = "shards", rate = 0.01, hot = 256, sizes = sizes, seed = 3 }))
  tap.ok(e2 < 0.02, string.format("SHARDS at 1%% with the 256 hottest pages exact: mean absolute error %.4f", e2))
end

do
  local r = {}
  math.randomseed(7)
  for i = 1, 30000 do r[i] = math.random(50) + (i % 3 == 0 and math.random(2000) or 0) end
  local sizes = { 1, 10, 50, 100, 1000, 1900 }
  local c = trace.mrc(r, { sizes = sizes })
  local full = trace.mrc(r, { method = "shards", rate = 1, sizes = sizes })
  local same = true
  for i in ipairs(sizes) do same = same and math.abs(full.miss_ratio[i] - c.miss_ratio[i]) < 1e-9 end
  tap.ok(same, "SHARDS at rate 1 is the exact curve")
end

local c = trace.mrc({ 1, 2, 3, 1, 2, 3 }, {})
tap.is_deeply(c.sizes, { 1, 2, 3 }, "default sizes: every size up to the distinct pages")
tap.is_deeply(c.miss_ratio, { 1, 1, 0.5 }, "a loop of 3 misses until 3 frames")
tap.error_like(function() trace.mrc({ 1 }, { method = "nope" }) end, "invalid option 'nope'", "unknown method")
tap.error_like(function() trace.mrc({ 1 }, { method = "shards", rate = 2 }) end, "rate", "rate above 1")
tap.error_like(function() trace.mrc({ 1 }, { rat = 2 }) end, "did you mean 'rate'", "unknown option")
tap.done_testing()
