-- vmlab.report.access_views: the pictures damo's `report access` draws in
-- its templates, number for number as damo 3.3 draws them: the snapshot
-- heatmap row, temperature and recency (idle time) histograms and
-- percentiles, and region boxes.  damo is Python: its float arithmetic is
-- reproduced operation by operation (same order, same roundings), its
-- integer division truncations with fmt.trunc, its stable sorts with an
-- index tie-break.
--
-- Regions here are prepared by vmlab.report.access: {start=, ["end"]=,
-- samples=, percent= (int), usec= (age in us)}.

local fmt = require "vmlab.report.fmt"

local M = {}

local trunc = fmt.trunc

-- ---- damo's ASCII colours ------------------------------------------------------

M.colorsets = {
  gray = { { 232, 232, 232, 232, 232, 232, 232, 232, 232, 232 }, { 237, 239, 241, 243, 245, 247, 249, 251, 253, 255 } },
  flame = { { 232, 1, 1, 2, 3, 3, 20, 21, 26, 27, 27 }, { 239, 235, 237, 239, 243, 245, 247, 249, 251, 255 } },
  emotion = { { 232, 234, 20, 21, 26, 2, 3, 1, 1, 1 }, { 239, 235, 237, 239, 243, 245, 247, 249, 251, 255 } },
}

local function color_start(set, level)
  local c = M.colorsets[set]
  return string.format("\27[48;5;%dm\27[38;5;%dm", c[1][level + 1], c[2][level + 1])
end

function M.colored(txt, set, level) return color_start(set, level) .. txt .. "\27[0m" end

function M.color_samples(set)
  local out = {}
  for level = 0, 9 do out[#out + 1] = color_start(set, level) .. level end
  out[#out + 1] = "\27[0m"
  return table.concat(out)
end

-- ---- helpers ---------------------------------------------------------------

-- Python's sorted(): stable; reverse keeps equal items in their order.
function M.sorted(list, key, reverse)
  local idx = {}
  for i, v in ipairs(list) do idx[i] = { v = v, k = key(v), i = i } end
  table.sort(idx, function(a, b)
    if a.k ~= b.k then
      if reverse then return a.k > b.k end
      return a.k < b.k
    end
    return a.i < b.i
  end)
  local out = {}
  for i, e in ipairs(idx) do out[i] = e.v end
  return out
end

local function size(r) return r["end"] - r.start end
M.size = size

-- damo's temperature_of: size, access rate and age, weighted; negative
-- when the region was not accessed.
function M.temperature(r, w)
  local score = size(r) * w[1] + r.percent * w[2] + r.usec * w[3]
  if r.percent > 0 then return score end
  return -1 * score
end

-- Python's float // float (CPython's float_floor_div).
local function pyfloordiv(a, b)
  local mod = math.fmod(a, b)
  local div = (a - mod) / b
  if mod ~= 0 and ((b < 0) ~= (mod < 0)) then div = div - 1.0 end
  if div == 0 then return 0.0 * (a / b) end
  local fl = math.floor(div)
  if div - fl > 0.5 then fl = fl + 1.0 end
  return fl + 0.0
end

local function ceil(x) return math.tointeger(math.ceil(x)) or math.ceil(x) end

-- ---- the snapshot heatmap row (<heatmap>) ------------------------------------

local function heat_pixel(s, e, regions, w)
  local px = { start = s, ["end"] = e, total_heat = 0, is_void = true }
  for _, r in ipairs(regions) do
    if not (r["end"] <= s) then
      if e <= r.start then break end
      px.is_void = false
      local c = r
      if s <= r.start and r["end"] <= e then
        c = r
      elseif r.start <= s and e <= r["end"] then
        c = { start = s, ["end"] = e, percent = r.percent, usec = r.usec }
      elseif r.start < s then
        c = { start = s, ["end"] = r["end"], percent = r.percent, usec = r.usec }
      else
        c = { start = r.start, ["end"] = e, percent = r.percent, usec = r.usec }
      end
      px.total_heat = px.total_heat + M.temperature(c, w) * size(c)
    end
  end
  px.temperature = px.total_heat / (px["end"] - px.start)
  return px
end

local function region_after(addr, regions)
  for _, r in ipairs(regions) do if r.start > addr then return r end end
end

-- opts: width, colorset, static, weights, raw
function M.heatmap(regions, o)
  if #regions == 0 then return "n/a (no region)" end
  local total = 0
  if o.static then
    total = regions[#regions]["end"] - regions[1].start
  else
    for _, r in ipairs(regions) do total = total + size(r) end
  end
  local unit = total / o.width
  local pixels, minT, maxT = {}, nil, nil
  local start = regions[1].start
  while start < regions[#regions]["end"] do
    local e = start + unit
    local px = heat_pixel(start, e, regions, o.weights)
    pixels[#pixels + 1] = px
    if px.is_void then
      local nxt = region_after(e, regions)
      if not nxt then break end
      start = pyfloordiv(nxt.start, unit) * unit
      px["end"] = start
    else
      if minT == nil or px.temperature < minT then minT = px.temperature end
      if maxT == nil or px.temperature > maxT then maxT = px.temperature end
      start = e
    end
  end
  local tunit = (maxT - minT) / 9
  if tunit == 0 then tunit = maxT / 9 end
  if tunit == 0 then tunit = 1 end
  local dots = {}
  for _, px in ipairs(pixels) do
    if px.is_void then
      local n = (px["end"] - px.start) / unit
      if not o.static and n > 4 then
        dots[#dots + 1] = "[...]"
      elseif n >= 1 then
        dots[#dots + 1] = string.rep(".", trunc(n))
      end
    else
      local level = trunc((px.temperature - minT) / tunit)
      dots[#dots + 1] = M.colored(string.format("%d", level), o.colorset, level)
    end
  end
  return table.concat(dots) .. "\n" .. string.format("# min/max temperatures: %s, %s, column size: %s",
    fmt.nr(minT, o.raw), fmt.nr(maxT, o.raw), fmt.sz(unit, o.raw))
end

-- ---- histograms (<temperature-sz histogram>, <recency-sz histogram>) -------

local function hist_ranges(minv, maxv, n, logscale, cumulate)
  local ranges = {}
  if logscale then
    local interval = math.max(trunc((maxv - minv) / 2 ^ n), 1)
    ranges[1] = { minv, minv + interval }
    while ranges[#ranges][2] < maxv do
      local last = ranges[#ranges]
      local li = last[2] - last[1]
      ranges[#ranges + 1] = { cumulate and minv or last[2], last[2] + li * 2 }
    end
    return ranges
  end
  local interval = math.max(ceil((maxv + 1 - minv) / n), 1)
  for i = 0, n - 1 do
    ranges[#ranges + 1] = { cumulate and minv or minv + interval * i, minv + interval * (i + 1) }
  end
  return ranges
end

local function histogram_str(hist)
  local minY, maxY, maxX, maxYs = math.huge, -math.huge, 0, 0
  for _, h in ipairs(hist) do
    if h[3] < minY then minY = h[3] end
    if h[3] > maxY then maxY = h[3] end
    maxX = math.max(maxX, #h[1])
    maxYs = math.max(maxYs, #h[2])
  end
  local interval = math.max(trunc((maxY - minY) / 20), 1)
  local lines = {}
  for _, h in ipairs(hist) do
    local n = math.min(ceil((h[3] - minY) / interval), 20)
    lines[#lines + 1] = string.format("%s%s %s%s |%s%s|", h[1], string.rep(" ", maxX - #h[1]), h[2],
      string.rep(" ", maxYs - #h[2]), string.rep("*", n), string.rep(" ", 20 - n))
  end
  return table.concat(lines, "\n")
end

local function idle_time(r, aggr_us)
  if r.percent > 0 then return 0 end
  return r.usec + aggr_us
end

local function metric_fn(kind, o)
  if kind == "recency" then return function(r) return idle_time(r, o.aggr_us) end end
  local w = { 0, o.weights[2], o.weights[3] }
  return function(r) return M.temperature(r, w) end
end

-- kind: "temperature" | "recency"; o: weights, aggr_us, raw, logscale,
-- cumulate, ranges ({{min, max}, ...} or nil)
function M.sz_histogram(regions, kind, o)
  if #regions == 0 then return "no region in snapshot" end
  local metric = metric_fn(kind, o)
  local dist, keys = {}, {}
  for _, r in ipairs(regions) do
    local m = metric(r)
    if dist[m] == nil then dist[m] = 0; keys[#keys + 1] = m end
    dist[m] = dist[m] + size(r)
  end
  table.sort(keys)
  local ranges = o.ranges or hist_ranges(keys[1], keys[#keys], 10, o.logscale, o.cumulate)
  local fx = kind == "recency" and fmt.time_us or fmt.nr
  local hist = {}
  for _, rg in ipairs(ranges) do
    local y = 0
    for _, k in ipairs(keys) do if k >= rg[1] and k < rg[2] then y = y + dist[k] end end
    hist[#hist + 1] = { string.format("[%s, %s)", fx(rg[1], o.raw), fx(rg[2], o.raw)), fmt.sz(y, o.raw), y }
  end
  return histogram_str(hist)
end

-- ---- percentiles (<recency percentiles>, <temperature percentiles>) ----------

function M.percentiles_to_show(pr)
  if pr == nil then return { 0, 1, 25, 50, 75, 99, 100 } end
  local out = {}
  if #pr <= 3 then                          -- Python's range(*pr)
    local a, b, step = pr[1], pr[2], pr[3] or 1
    if #pr == 1 then a, b = 0, pr[1] end
    for p = a, b - (step > 0 and 1 or -1), step do out[#out + 1] = p end
  else
    for i, p in ipairs(pr) do out[i] = p end
    table.sort(out)
  end
  return out
end

function M.percentiles(regions, kind, o)
  if #regions == 0 then return "no region in snapshot" end
  local metric = metric_fn(kind, o)
  local show = M.percentiles_to_show(o.percentiles)
  local sorted = M.sorted(regions, metric)
  local total = 0
  for _, r in ipairs(sorted) do total = total + size(r) end
  local values, pct, si, last = {}, 0, 1, nil
  for _, r in ipairs(sorted) do
    last = r
    pct = pct + size(r) * 100 / total
    while si <= #show do
      if pct < show[si] then break end
      values[#values + 1] = { show[si], metric(r) }
      si = si + 1
    end
    if pct >= 100.0 then break end
  end
  for k = si, #show do
    if show[k] == 100 then values[#values + 1] = { 100, metric(last) } break end
  end
  local legend
  if kind == "recency" then
    legend = o.raw and "<idle time (us)>" or "<idle time>"
  else
    legend = string.format("<temperature (weights: [%d, %d, %d])>", o.weights[1], o.weights[2], o.weights[3])
  end
  local lines = { "<percentile> " .. legend }
  if #values == 0 then return lines[1] end
  local fv = kind == "recency" and fmt.time_us or fmt.nr
  local ptxt, vtxt, maxp, maxv = {}, {}, 0, 0
  for i, pv in ipairs(values) do
    ptxt[i] = string.format("%d", trunc(pv[1]))
    vtxt[i] = fv(pv[2], o.raw)
    maxp, maxv = math.max(maxp, #ptxt[i]), math.max(maxv, #vtxt[i])
  end
  local minval, maxval = values[1][2], values[#values][2]
  local per_dot = 1
  if maxval ~= minval then per_dot = (maxval - minval) / 20 end
  for i, pv in ipairs(values) do
    local n = trunc((pv[2] - minval) / per_dot)
    lines[#lines + 1] = string.format("%s%s  %s%s  |%s%s|", string.rep(" ", maxp - #ptxt[i]), ptxt[i],
      string.rep(" ", maxv - #vtxt[i]), vtxt[i], string.rep("*", n), string.rep(" ", 20 - n))
  end
  return table.concat(lines, "\n")
end

-- ---- region boxes (<box>, <region box description>) --------------------------

local function log2(v) return math.log(v) / math.log(2) end   -- Python's math.log(v, 2)

local function rescale(val, minmax, newmm, logscale)
  local lo, hi = minmax[1], minmax[2]
  if logscale then
    val = val > 0 and log2(val) or 0
    lo = lo > 0 and log2(lo) or 0
    hi = hi > 0 and log2(hi) or 0
  end
  local olen = hi - lo
  local nlen = newmm[2] - newmm[1]
  local ratio = olen > 0 and nlen / olen or 1
  return (val - lo) * ratio + newmm[1]
end

local value_of = {
  size = function(r) return size(r) end,
  access_rate = function(r) return r.percent end,
  age = function(r) return r.usec end,
}

-- box format: values {length, color, height} ("size", "access_rate", "age"
-- or "none"), scales {"log"|"linear" x3}, min_max_length, min_max_height,
-- colorset, align; minmax: {size={min,max}, access_rate=, age=} over every
-- region of every record, as damo takes them.
function M.box(r, b)
  local lv = value_of[b.values[1]]
  local length = trunc(rescale(lv(r), b.minmax[b.values[1]], b.min_max_length, b.scales[1] == "log"))
  local height = 1
  if b.values[3] ~= "none" then
    height = trunc(rescale(value_of[b.values[3]](r), b.minmax[b.values[3]], b.min_max_height, b.scales[3] == "log"))
  end
  local row
  if b.values[2] == "none" then
    row = string.rep("-", length)
  else
    local level = trunc(rescale(value_of[b.values[2]](r), b.minmax[b.values[2]], { 0, 9 }, b.scales[2] == "log"))
    row = M.colored(string.rep(string.format("%d", level), length), b.colorset, level)
  end
  row = "|" .. row .. "|"
  if b.align == "right" then row = string.rep(" ", b.min_max_length[2] - length) .. row end
  local rows = {}
  for i = 1, height do rows[i] = row end
  local box = table.concat(rows, "\n")
  if b.min_max_height[2] > 1 then box = box .. "\n" end
  return box
end

local function fmt_minmax(mm, name, raw)
  if name == "size" then return string.format("[%s, %s]", fmt.sz(mm[1], raw), fmt.sz(mm[2], raw)) end
  if name == "age" then return string.format("[%s, %s] ", fmt.time_us(mm[1], raw), fmt.time_us(mm[2], raw)) end
  return string.format("[%s, %s]", fmt.percent(mm[1], raw), fmt.percent(mm[2], raw))
end

function M.box_description(b, raw)
  local scale = function(i) return b.scales[i] == "log" and "logscale" or "linearscale" end
  local function mm(i)
    local n = b.values[i]
    if n == "none" then return "None" end
    return fmt_minmax(b.minmax[n], n, raw)
  end
  local function name(i) return b.values[i] == "none" and "None" or b.values[i] end
  return table.concat({
    string.format("# length: %s (represents %s with [%d, %d] columns in %s)", name(1), mm(1),
      b.min_max_length[1], b.min_max_length[2], scale(1)),
    string.format("# color: %s (represents %s with [%d, %d] number and color (%s) in %s)", name(2), mm(2),
      0, 9, M.color_samples(b.colorset), scale(2)),
    string.format("# height: %s (represents %s with [%d, %d] rows in %s)", name(3), mm(3),
      b.min_max_height[1], b.min_max_height[2], scale(3)),
  }, "\n")
end

return M
