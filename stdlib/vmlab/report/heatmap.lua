-- vmlab.report.heatmap: damo's heatmap and record guide, number for number.
--
-- The guide (damo's record_info / heatmap --guide): per target, the time
-- span and the contiguous address ranges (gaps every snapshot shares cut
-- the space), with the access heat of each range; the hottest range is the
-- heatmap's default address range.
--
-- The heatmap: time_resol x addr_resol pixels; a pixel's heat is the access
-- frequency (Hz when the record has intervals, else samples per
-- aggregation) of the regions over it, weighted by the part of the pixel's
-- time x space they cover.  A pixel no region touched has no heat (NaN).

local fmt = require "vmlab.report.fmt"
local progress = require "vmlab.progress"

local M = {}

local trunc = fmt.trunc

-- ---- the guide ------------------------------------------------------------------

local function oldest_monitor_time(snap, intervals)
  if not intervals then return snap.start_time end
  local longest = 0
  for _, r in ipairs(snap.regions) do
    if r.age and longest < r.age then longest = r.age end
  end
  return snap.start_time - longest * intervals.aggr * 1000
end

-- damo's overlapping_regions: every gap of the first list stays, narrowed
-- by the gaps of the second it touches.
local function overlapping(g1, g2)
  local out = {}
  for _, a in ipairs(g1) do
    local r = { a[1], a[2] }
    for _, b in ipairs(g2) do
      if not (r[2] < b[1] or b[2] < r[1]) then r = { math.max(r[1], b[1]), math.min(r[2], b[2]) } end
    end
    out[#out + 1] = r
  end
  return out
end

local function guide_regions(g)
  local regions, region = {}, { g.lowest }
  for _, gap in ipairs(g.gaps) do
    region[2] = gap[1]
    regions[#regions + 1] = region
    region = { gap[2] }
  end
  region[2] = g.highest
  regions[#regions + 1] = region
  return regions
end

-- records -> guides, the largest address space first (damo's get_guide_info)
function M.guides(records)
  local guides, order = {}, {}
  -- two passes over the snapshots: a progress line for large records
  local n, done = 0, 0
  for _, rec in ipairs(records) do n = n + #rec.snapshots end
  local p <close> = progress.start("record guide", 2 * n)
  for _, rec in ipairs(records) do
    local id = rec.target_id
    for _, s in ipairs(rec.snapshots) do
      done = done + 1
      p:update(done)
      local g = guides[id]
      if not g then
        g = { target_id = id, start_time = oldest_monitor_time(s, rec.intervals), gaps = {} }
        guides[id] = g
        order[#order + 1] = g
      end
      g.end_time = s.end_time
      local last, gaps = nil, {}
      for _, r in ipairs(s.regions) do
        -- damo tests these with Python truthiness: an address 0 is "unset"
        if not g.lowest or g.lowest == 0 or r.start < g.lowest then g.lowest = r.start end
        if not g.highest or g.highest == 0 or r["end"] > g.highest then g.highest = r["end"] end
        if not last or last == 0 then
          last = r["end"]
        else
          if last ~= r.start then gaps[#gaps + 1] = { last, r.start } end
          last = r["end"]
        end
      end
      if #g.gaps == 0 then g.gaps = gaps else g.gaps = overlapping(g.gaps, gaps) end
    end
  end
  for _, g in ipairs(order) do
    g.regions = {}
    for i, r in ipairs(guide_regions(g)) do g.regions[i] = { start = r[1], ["end"] = r[2] } end
    g.total_space = 0
    for _, r in ipairs(g.regions) do g.total_space = g.total_space + (r["end"] - r.start) end
    for _, rec in ipairs(records) do
      if rec.target_id == g.target_id then
        for _, s in ipairs(rec.snapshots) do
          done = done + 1
          p:update(done)
          for _, r in ipairs(s.regions) do
            if r.samples ~= 0 then
              for _, gr in ipairs(g.regions) do
                if not (r["end"] < gr.start or gr["end"] < r.start) then
                  gr.heats = (gr.heats or 0) + (r["end"] - r.start) * r.samples
                end
              end
            end
          end
        end
      end
    end
    for _, gr in ipairs(g.regions) do
      gr.heat_per_byte = gr.heats and gr.heats / (gr["end"] - gr.start) or 0
    end
  end
  for i, g in ipairs(order) do g.order = i end
  table.sort(order, function(a, b)
    if a.total_space ~= b.total_space then return a.total_space > b.total_space end
    return a.order < b.order
  end)
  return order
end

-- The hottest contiguous range (the first of equals, as Python's stable sort).
function M.hottest(g)
  local best
  for _, r in ipairs(g.regions) do
    if not best or r.heat_per_byte > best.heat_per_byte then best = r end
  end
  return best
end

function M.guide_text(guides, raw)
  local out = {}
  for _, g in ipairs(guides) do
    out[#out + 1] = "target_id: " .. fmt.u64(g.target_id)
    out[#out + 1] = string.format("time: [%s, %s) (%s)", fmt.time_ns(g.start_time, raw),
      fmt.time_ns(g.end_time, raw), fmt.time_ns(g.end_time - g.start_time, raw))
    for i, r in ipairs(g.regions) do
      out[#out + 1] = string.format("region\t%2d: [%s, %s) (%s)", i - 1, fmt.sz_accurate(r.start, raw),
        fmt.sz_accurate(r["end"], raw), fmt.sz(r["end"] - r.start, raw))
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- ---- the heatmap ----------------------------------------------------------------

-- Python's // on two ints (floor) or a float (floor, a float).
local function floordiv(a, b)
  if math.type(a) == "integer" and math.type(b) == "integer" then return a // b end
  return math.floor(a / b) + 0.0
end

-- hm = {time_start=, time_unit=, time_resol=, addr_start=, addr_unit=,
--       addr_resol=, unit="hz"|"samples", heat={[t][a] = number|nil}}
function M.build(records, time_range, addr_range, resol)
  local t0, t1 = time_range[1], time_range[2]
  local a0, a1 = addr_range[1], addr_range[2]
  local tres, ares = resol[1], resol[2]
  local hm = { time_start = t0, time_resol = tres, addr_start = a0, addr_resol = ares,
    time_unit = floordiv(t1 - t0, tres), addr_unit = floordiv(a1 - a0, ares), unit = "samples", heat = {} }
  if hm.time_unit <= 0 or hm.addr_unit <= 0 then
    error(("the heatmap's ranges are too small for %dx%d pixels (time %s ns, address %s bytes)"):format(
      tres, ares, fmt.pynum(t1 - t0), fmt.pynum(a1 - a0)), 0)
  end
  for _, rec in ipairs(records) do if rec.intervals then hm.unit = "hz" break end end
  for i = 1, tres do hm.heat[i] = {} end
  local tu, au = hm.time_unit, hm.addr_unit
  local pts = tu * au
  local addr_end = a0 + au * ares
  local function tidx(t) return trunc((t - t0) / tu) end
  local function aidx(a) return trunc((a - a0) / au) end
  local last
  local n, done = 0, 0
  for _, rec in ipairs(records) do n = n + #rec.snapshots end
  local p <close> = progress.start("heatmap", n)
  for _, rec in ipairs(records) do
    local iv = rec.intervals
    local aggr_ns = iv and iv.aggr * 1000
    for _, s in ipairs(rec.snapshots) do
      done = done + 1
      p:update(done)
      for _, r in ipairs(s.regions) do
        if not (r["end"] < a0 or addr_end < r.start) then
          local st = s.start_time
          if aggr_ns then st = st - (r.age or 0) * aggr_ns end
          if last and st < last.end_time then st = last.end_time end
          local heat_val
          if iv then heat_val = r.samples / (iv.aggr / 1000000) else heat_val = r.samples end
          local observe = s.start_time
          if iv then observe = observe - (r.age or 0) * iv.aggr * 1000 end
          for ti = tidx(st), tidx(s.end_time) do
            if ti >= 0 and ti < tres then
              local ptime = trunc(t0 + ti * tu)
              local row = hm.heat[ti + 1]
              local acc_t = math.min(s.end_time, ptime + tu) - math.max(observe, ptime)
              for ai = aidx(r.start), aidx(r["end"]) do
                if ai >= 0 and ai < ares then
                  local paddr = trunc(a0 + ai * au)
                  local acc_sz = math.min(r["end"], paddr + au) - math.max(r.start, paddr)
                  local h
                  if math.type(heat_val) == "integer" and math.type(acc_t) == "integer" then
                    h = heat_val * acc_t
                    -- Python's ints do not wrap: go float where int64 would
                    if h ~= 0 and math.abs(acc_sz) > math.maxinteger // math.abs(h) then
                      h = (h + 0.0) * acc_sz
                    else
                      h = h * acc_sz
                    end
                  else
                    h = heat_val * acc_t * acc_sz
                  end
                  local old = row[ai + 1] or 0
                  row[ai + 1] = (h + old * pts) / pts
                end
              end
            end
          end
        end
      end
      last = s
    end
  end
  return hm
end

function M.minmax(hm)
  local hi, lo
  for t = 1, hm.time_resol do
    local row = hm.heat[t]
    for a = 1, hm.addr_resol do
      local v = row[a]
      if v then
        if not hi or hi < v then hi = v end
        if not lo or lo > v then lo = v end
      end
    end
  end
  return hi, lo
end

-- damo's --output raw: "<time>\t<address>\t<heat>" per pixel, time-major;
-- relative to the ranges' starts unless abs_time / abs_addr.
function M.raw_text(hm, abs_time, abs_addr)
  local out = {}
  local n = 0
  for t = 0, hm.time_resol - 1 do
    local row = hm.heat[t + 1]
    local time = trunc(hm.time_start + t * hm.time_unit)
    if not abs_time then time = time - hm.time_start end
    local ts = fmt.pynum(time)
    for a = 0, hm.addr_resol - 1 do
      local addr = trunc(hm.addr_start + a * hm.addr_unit)
      if not abs_addr then addr = addr - hm.addr_start end
      local v = row[a + 1]
      n = n + 1
      out[n] = ts .. "\t" .. fmt.pynum(addr) .. "\t" .. (v and fmt.pyfloat(v + 0.0) or "NaN")
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- damo's colour sets: {backgrounds, foregrounds} per level 0-9
M.colorsets = {
  gray = { { 232, 232, 232, 232, 232, 232, 232, 232, 232, 232 }, { 237, 239, 241, 243, 245, 247, 249, 251, 253, 255 } },
  flame = { { 232, 1, 1, 2, 3, 3, 20, 21, 26, 27, 27 }, { 239, 235, 237, 239, 243, 245, 247, 249, 251, 255 } },
  emotion = { { 232, 234, 20, 21, 26, 2, 3, 1, 1, 1 }, { 239, 235, 237, 239, 243, 245, 247, 249, 251, 255 } },
}

local function color(set, level)
  if not set then return "" end
  return string.format("\27[48;5;%dm\27[38;5;%dm", set[1][level + 1], set[2][level + 1])
end

-- damo's stdout heatmap: one line per time slot (time grows downwards),
-- one digit 0-9 per address slot (the heat's level between the lowest
-- and the highest), then a legend.  colorset nil: plain digits.
function M.ascii_text(hm, colorset, show_colorset)
  local set = colorset and M.colorsets[colorset]
  local reset = set and "\27[0m" or ""
  local out = {}
  local hi, lo = M.minmax(hm)
  if hi then
    local unit = (hi + 1 - lo) / 9
    for t = 1, hm.time_resol do
      local row, chars = hm.heat[t], {}
      for a = 1, hm.addr_resol do
        local v = row[a]
        if v == nil then
          chars[a] = color(set, 4) .. " "
        else
          local level = math.min(trunc((v - lo) / unit), 9)
          chars[a] = color(set, level) .. level
        end
      end
      out[#out + 1] = table.concat(chars) .. reset
    end
    if show_colorset then
      local samples = {}
      for level = 0, 9 do samples[#samples + 1] = color(set, level) .. level end
      out[#out + 1] = string.format("# access_frequency: %s%s (%.3f-%.3f %s)", table.concat(samples), reset,
        lo, hi, hm.unit)
    end
  end
  local alen = hm.addr_unit * hm.addr_resol
  out[#out + 1] = string.format("# x-axis: space [%s, %s) (%s)", fmt.sz_accurate(hm.addr_start, false),
    fmt.sz_accurate(hm.addr_start + alen, false), fmt.sz(alen, false))
  local tlen = hm.time_unit * hm.time_resol
  out[#out + 1] = string.format("# y-axis: time [%s, %s) (%s)", fmt.time_ns(hm.time_start, false),
    fmt.time_ns(hm.time_start + tlen, false), fmt.time_ns(tlen, false))
  out[#out + 1] = string.format("# resolution: %dx%d (%s and %s for each character)", hm.addr_resol,
    hm.time_resol, fmt.sz(alen / hm.addr_resol, false), fmt.time_ns(tlen / hm.time_resol, false))
  return table.concat(out, "\n") .. "\n"
end

return M
