-- vmlab.report.access: damo 3.3's `report access` views (everything but
-- --raw_form, which vmlab.report.access prints itself): the default
-- (detailed) view, its --style presets and its templates (--format set|append
-- <record_head|snapshot_head|region|snapshot_tail|record_tail> <template>),
-- where damo's <keywords> are replaced by numbers printed as damo prints them.
--
--   render(records, opts) -> text (no trailing newline, as damo's)
-- records as vmlab.report.records gives them; every record needs its
-- monitoring intervals (damo refuses records without them, and so does this).

local fmt = require "vmlab.report.fmt"
local V = require "vmlab.report.access_views"

local M = {}

M.styles = { "detailed", "simple-boxes", "temperature-sz-hist", "recency-sz-hist", "cold-memory-tail",
  "recency-percentiles", "idle-time-percentiles", "temperature-percentiles", "cold", "hot" }

M.sort_fields = { "address", "access_rate", "age", "size", "temperature" }

local size = V.size

-- Python's str.replace (every occurrence, left to right, plain text)
local function replace(s, old, new)
  local out, pos = {}, 1
  while true do
    local a, b = s:find(old, pos, true)
    if not a then break end
    out[#out + 1] = s:sub(pos, a - 1)
    out[#out + 1] = new
    pos = b + 1
  end
  out[#out + 1] = s:sub(pos)
  return table.concat(out)
end

local function pystr(v)
  if v == nil then return "None" end
  if math.type(v) == "integer" then return fmt.u64(v) end
  return tostring(v)
end

-- ---- keywords ----------------------------------------------------------------

local function aggr_us(rec) return rec.intervals.aggr end

local function record_intervals(rec, f)
  return string.format("sample %s, aggr %s", fmt.time_us(rec.intervals.sample, f.raw),
    fmt.time_us(rec.intervals.aggr, f.raw))
end

local function format_strings(f)
  return table.concat({
    string.format('record head: "%s"', f.record_head), string.format('snapshot head: "%s"', f.snapshot_head),
    string.format('region: "%s"', f.region), string.format('snapshot tail: "%s"', f.snapshot_tail),
    string.format('record tail: "%s"', f.record_tail) }, "\n")
end

local record_keywords = {
  { "<kdamond index>", function(rec) return pystr(rec.kdamond_idx) end },
  { "<context index>", function(rec) return pystr(rec.context_idx) end },
  { "<scheme index>", function(rec) return pystr(rec.scheme_idx) end },
  { "<target id>", function(rec) return pystr(rec.target_id) end },
  { "<abs start time>", function(rec, f) return fmt.time_ns(rec.snapshots[1].start_time, f.raw) end },
  { "<duration>", function(rec, f)
    return fmt.time_ns(rec.snapshots[#rec.snapshots].end_time - rec.snapshots[1].start_time, f.raw) end },
  { "<intervals>", record_intervals },
  -- vmlab's records have no intervals auto-tuning goal: damo's disabled one
  { "<intervals goal>", function(_, f)
    return string.format("target %s accesses per %s aggrs, [%s, %s] sampling interval", fmt.ratio(0, f.raw),
      fmt.nr(0, f.raw), fmt.time_us(0, f.raw), fmt.time_us(0, f.raw)) end },
  { "<data source>", function() return "unknown" end },
  { "<format strings>", function(_, f) return format_strings(f) end },
}

local function total_bytes(s)
  if s.total_bytes then return s.total_bytes end
  local t = 0
  for _, r in ipairs(s.regions) do t = t + size(r) end
  return t
end

local function view_opts(rec, f)
  return { weights = f.weights, aggr_us = aggr_us(rec), raw = f.raw, logscale = f.hist_logscale,
    cumulate = f.hist_cumulate, ranges = f.hist_ranges, percentiles = f.percentiles_range,
    width = f.heatmap_width, colorset = f.heatmap_colorset, static = f.heatmap_static }
end

local function mem_bw(s, rec, f)
  local bytes = 0
  for _, r in ipairs(s.regions) do bytes = bytes + size(r) * r.samples end
  return fmt.sz(bytes / (aggr_us(rec) / 1000000), f.raw) .. " per second"
end

local snapshot_keywords = {
  { "<total bytes>", function(s, _, f) return fmt.sz(total_bytes(s), f.raw) end },
  { "<duration>", function(s, _, f) return fmt.time_ns(s.end_time - s.start_time, f.raw) end },
  { "<start time>", function(s, rec, f) return fmt.time_ns(s.start_time - rec.snapshots[1].start_time, f.raw) end },
  { "<end time>", function(s, rec, f) return fmt.time_ns(s.end_time - rec.snapshots[1].start_time, f.raw) end },
  { "<abs start time>", function(s, _, f) return fmt.time_ns(s.start_time, f.raw) end },
  { "<abs end time>", function(s, _, f) return fmt.time_ns(s.end_time, f.raw) end },
  { "<number of regions>", function(s, _, f) return fmt.nr(#s.regions, f.raw) end },
  { "<region box colors>", function(_, _, f) return V.color_samples(f.box.colorset) end },
  { "<region box description>", function(_, _, f)
    if not f.box.minmax then return "n/a (no region)" end
    return V.box_description(f.box, f.raw) end },
  { "<temperature-sz histogram>", function(s, rec, f) return V.sz_histogram(s.regions, "temperature", view_opts(rec, f)) end },
  { "<temperature-df-passed-sz histogram>", function() return "N/A" end },
  { "<recency-sz histogram>", function(s, rec, f) return V.sz_histogram(s.regions, "recency", view_opts(rec, f)) end },
  { "<recency-df-passed-sz histogram>", function() return "N/A" end },
  { "<recency percentiles>", function(s, rec, f) return V.percentiles(s.regions, "recency", view_opts(rec, f)) end },
  { "<df-passed recency percentiles>", function() return "N/A" end },
  { "<temperature percentiles>", function(s, rec, f)
    return V.percentiles(s.regions, "temperature", view_opts(rec, f)) end },
  { "<df-passed temperature percentiles>", function() return "N/A" end },
  { "<heatmap>", function(s, rec, f) return V.heatmap(s.regions, view_opts(rec, f)) end },
  { "<filters passed heatmap>", function() return "N/A" end },
  -- vmlab's records carry no DAMOS filters
  { "<filters passed type>", function() return "n/a" end },
  { "<filters passed bytes>", function() return "N/A" end },
  { "<positive access samples ratio>", function(s, rec, f)
    local per = rec.intervals.aggr / rec.intervals.sample
    local max, n = per * #s.regions, 0
    for _, r in ipairs(s.regions) do n = n + r.samples end
    return fmt.percent(n * 100 / max, f.raw) end },
  { "<estimated memory bandwidth>", mem_bw },
  { "<filters passed estimated memory bandwidth>", function() return "N/A" end },
  { "<intervals tuning status>", function(s, rec, f)
    local per = rec.intervals.aggr / rec.intervals.sample
    local maxo, o = 0, 0
    for _, r in ipairs(s.regions) do
      maxo = maxo + per * size(r)
      o = o + size(r) * r.samples
    end
    return string.format("%s (%s / %s) %s %s", fmt.percent(o * 100 / math.max(maxo, 1), f.raw), fmt.sz(o, f.raw),
      fmt.sz(maxo, f.raw), fmt.time_us(rec.intervals.sample, f.raw), fmt.time_us(rec.intervals.aggr, f.raw)) end },
  { "<damos stats>", function() return "none" end },
  { "<snapshot intervals>", function(_, rec, f)
    local ratio = rec.intervals.aggr / rec.intervals.sample
    local aggr = aggr_us(rec)
    return string.format("sample %s aggr %s (max access hz %s)", fmt.time_us(aggr / ratio, f.raw),
      fmt.time_us(aggr, f.raw), fmt.hz(ratio / (aggr / 1000000), f.raw, true)) end },
}

local region_keywords = {
  { "<index>", function(i, _, _, _, f) return fmt.nr(i, f.raw) end },
  { "<start address>", function(_, r, _, _, f) return fmt.sz(r.start, f.raw) end },
  { "<end address>", function(_, r, _, _, f) return fmt.sz(r["end"], f.raw) end },
  { "<size>", function(_, r, _, _, f) return fmt.sz(size(r), f.raw) end },
  { "<access rate>", function(_, r, _, _, f) return fmt.percent(r.percent, f.raw) end },
  { "<access hz>", function(_, r, _, rec, f) return fmt.hz(r.samples / (aggr_us(rec) / 1000000), f.raw) end },
  { "<age>", function(_, r, _, _, f) return fmt.time_us(r.usec, f.raw) end },
  { "<temperature>", function(_, r, _, _, f) return fmt.nr(V.temperature(r, f.weights), f.raw) end },
  { "<probe hits>", function() return "" end },
  { "<filters passed bytes>", function() return "N/A" end },
  { "<box>", function(_, r, _, _, f) return V.box(r, f.box) end },
}

M.keywords = { record = record_keywords, snapshot = snapshot_keywords, region = region_keywords }

local function min_chars(f, kw, txt)
  for _, mc in ipairs(f.min_chars_for) do
    if mc[1] == kw then
      if #txt >= mc[2] then return txt end
      return txt .. string.rep(" ", mc[2] - #txt)
    end
  end
  return txt
end

local function format_output(template, keywords, f, ...)
  if template == "" then return nil end
  for _, k in ipairs(keywords) do
    if template:find(k[1], 1, true) then
      local txt = k[2](...)
      template = replace(template, k[1], min_chars(f, k[1], txt))
    end
  end
  return (replace(template, "\\n", "\n"))
end

-- ---- damo's set_formats ------------------------------------------------------

local function has_multiple_snapshots(recs)
  for _, rec in ipairs(recs) do if #rec.snapshots > 1 then return true end end
  return false
end

local function apply_style(f, style, recs)
  if style == "simple-boxes" then
    f.snapshot_head = "snapshot time: [<start time>, <end time>] (<duration>)"
    f.region = "<box> size <size> access <access hz> age <age>"
    f.box.min_max_height, f.box.min_max_length, f.box.align, f.box.colorset = { 1, 1 }, { 1, 40 }, "right", "emotion"
  elseif style == "temperature-sz-hist" then
    f.snapshot_head = "<temperature> <total size>\n<temperature-sz histogram>"
    f.region = ""
  elseif style == "recency-sz-hist" or style == "cold-memory-tail" then
    f.snapshot_head = "<idle time (us)> <total size>\n<recency-sz histogram>"
    f.region = ""
  elseif style == "recency-percentiles" or style == "idle-time-percentiles" or style == "temperature-percentiles" then
    local kind = style == "temperature-percentiles" and "temperature" or "recency"
    local lines = {}
    if has_multiple_snapshots(recs) then lines[1] = "snapshot time: [<start time>, <end time>] (<duration>)" end
    lines[#lines + 1] = "# total " .. kind .. " percentiles"
    lines[#lines + 1] = "<" .. kind .. " percentiles>"
    f.snapshot_head = table.concat(lines, "\n")
    f.region = ""
  elseif style == "cold" or style == "hot" then
    f.region = "<box> <size> access <access hz> <age>"
    f.box.min_max_height, f.box.min_max_length, f.box.align, f.box.colorset = { 1, 1 }, { 1, 40 }, "right", "emotion"
    f.sort_by = { "temperature" }
    if style == "hot" then f.sort_dsc = { "temperature" } end
  end
end

local function apply_defaults(f, recs, region_box)
  if f.record_head == nil then
    if #recs > 1 then
      f.record_head = "kdamond <kdamond index> / context <context index> / scheme <scheme index> / " ..
        "target id <target id> / recorded for <duration> from <abs start time>"
    else
      f.record_head = ""
    end
  end
  if f.record_tail == nil then f.record_tail = "record DAMON intervals: <intervals>" end
  if f.snapshot_head == nil then
    local lines = {}
    if has_multiple_snapshots(recs) then lines[1] = "snapshot time: [<start time>, <end time>] (<duration>)" end
    lines[#lines + 1] = "heatmap: <heatmap>"
    lines[#lines + 1] = "intervals: <snapshot intervals>"
    f.snapshot_head = table.concat(lines, "\n")
  end
  if f.snapshot_tail == nil then
    f.snapshot_tail = "memory bw estimate: <estimated memory bandwidth>\ntotal size: <total bytes>"
  end
  -- damo 3.3 appends the description to the record tail's template here
  -- (printing "record DAMON intervals: <intervals>" unreplaced in every
  -- snapshot); the snapshot tail is what it means.
  if region_box and not f.snapshot_tail:find("<region box description>", 1, true) then
    f.snapshot_tail = f.snapshot_tail .. "\n<region box description>"
  end
  local default_region = "<index> addr <start address> size <size> access <access hz> age <age>"
  if region_box then
    f.region = (f.box.min_max_height[2] > 1 and "<box>" or "<box>\n") .. default_region
  end
  if f.region == nil then f.region = default_region end
end

local areas = { record_head = true, snapshot_head = true, region = true, snapshot_tail = true, record_tail = true }

local function check_format(list)
  if list == nil then return end
  if type(list) ~= "table" then error("report.access: format is a list of {action, area, template}", 4) end
  for _, e in ipairs(list) do
    if type(e) ~= "table" or #e ~= 3 then
      error("report.access: a format entry is {'set'|'append', area, template}, got " ..
        (type(e) == "table" and #e .. " fields" or type(e)), 4)
    end
    if e[1] ~= "set" and e[1] ~= "append" then
      error("report.access: format action '" .. tostring(e[1]) .. "' is not set or append", 4)
    end
    if not areas[e[2]] then
      error("report.access: format area '" .. tostring(e[2]) ..
        "' is not one of record_head, snapshot_head, region, snapshot_tail, record_tail", 4)
    end
    if type(e[3]) ~= "string" then error("report.access: a format template is a string", 4) end
  end
end

local function sorted_regions(regions, f)
  for _, field in ipairs(f.sort_by) do
    local dsc = false
    for _, d in ipairs(f.sort_dsc or {}) do if d == "all" or d == field then dsc = true end end
    local key
    if field == "address" then key = function(r) return r.start end
    elseif field == "access_rate" then key = function(r) return r.percent end
    elseif field == "age" then key = function(r) return r.usec end
    elseif field == "size" then key = function(r) return size(r) end
    else key = function(r) return V.temperature(r, f.weights) end end
    regions = V.sorted(regions, key, dsc)
  end
  return regions
end

-- records: every region gets damo's derived units (percent, usec)
local function prepare(recs)
  for _, rec in ipairs(recs) do
    if not rec.intervals or not rec.intervals.aggr or rec.intervals.aggr <= 0 or not rec.intervals.sample or
      rec.intervals.sample <= 0 then
      return nil, "some records lack the intervals information (damo's views need the sampling and aggregation " ..
        "intervals; --raw_form prints them without)"
    end
    local max = rec.intervals.aggr / rec.intervals.sample
    for _, s in ipairs(rec.snapshots) do
      for _, r in ipairs(s.regions) do
        r.percent = fmt.trunc(r.samples * 100.0 / max)
        r.usec = (r.age or 0) * rec.intervals.aggr
      end
    end
  end
  return true
end

local function box_minmax(recs)
  local mm
  for _, rec in ipairs(recs) do
    for _, s in ipairs(rec.snapshots) do
      for _, r in ipairs(s.regions) do
        local v = { size = size(r), access_rate = r.percent, age = r.usec }
        if not mm then mm = { size = { v.size, v.size }, access_rate = { v.access_rate, v.access_rate },
          age = { v.age, v.age } } end
        for k, x in pairs(v) do
          if x < mm[k][1] then mm[k][1] = x end
          if x > mm[k][2] then mm[k][2] = x end
        end
      end
    end
  end
  return mm
end

local default_min_chars = { { "<index>", 3 }, { "<start address>", 12 }, { "<end address>", 11 }, { "<size>", 11 },
  { "<access rate>", 5 }, { "<access hz>", 6 }, { "<age>", 13 }, { "<filters passed type>", 10 } }

-- opts as vmlab.report.access documents them (checked there)
function M.render(recs, o)
  local ok, err = prepare(recs)
  if not ok then return nil, err end
  local f = {
    raw = o.raw_number and true or false,
    weights = o.temperature_weights or { 0, 100, 100 },
    sort_by = o.sort_regions_by or { "address" }, sort_dsc = o.sort_regions_dsc,
    hist_logscale = o.hist_logscale, hist_cumulate = o.hist_cumulate, hist_ranges = o.hist_ranges,
    percentiles_range = o.percentiles_range,
    record_head = o.format_record_head, record_tail = o.format_record_tail, snapshot_head = o.format_snapshot_head,
    snapshot_tail = o.format_snapshot_tail, region = o.format_region,
    heatmap_width = o.snapshot_heatmap_width or 80, heatmap_colorset = o.snapshot_heatmap_colorset or "gray",
    heatmap_static = o.snapshot_heatmap_static,
    box = { values = o.region_box_values or { "age", "access_rate", "size" },
      min_max_length = o.region_box_min_max_length or { 1, 30 }, min_max_height = o.region_box_min_max_height or { 1, 5 },
      colorset = o.region_box_colorset or "gray", scales = o.region_box_scales or { "log", "linear", "log" },
      align = o.region_box_align or "left" },
    min_chars_for = {},
  }
  -- damo's argparse appends the user's --min_chars_for after its defaults,
  -- and the first match wins
  for _, mc in ipairs(default_min_chars) do f.min_chars_for[#f.min_chars_for + 1] = mc end
  for _, mc in ipairs(o.min_chars_for or {}) do f.min_chars_for[#f.min_chars_for + 1] = mc end
  check_format(o.format)
  for _, e in ipairs(o.format or {}) do
    if e[1] == "set" then f[e[2]] = e[3] end
  end
  apply_style(f, o.style or "detailed", recs)
  if o.total_sz_only then
    f.snapshot_head, f.region, f.snapshot_tail = "", "", "<total bytes>"
  end
  apply_defaults(f, recs, o.region_box)
  for _, e in ipairs(o.format or {}) do
    if e[1] == "append" then f[e[2]] = f[e[2]] .. e[3] end
  end
  f.box.minmax = box_minmax(recs)
  local total_sz_only = f.snapshot_head == "" and f.region == "" and f.snapshot_tail == "<total bytes>"

  local out = {}
  local function add(s) if s ~= nil then out[#out + 1] = s end end
  for _, rec in ipairs(recs) do
    if #rec.snapshots == 0 and (f.record_head:find("<abs start time>", 1, true) or
      f.record_head:find("<duration>", 1, true) or f.record_tail:find("<abs start time>", 1, true) or
      f.record_tail:find("<duration>", 1, true)) then
      return nil, "target " .. pystr(rec.target_id) .. " has no snapshots: no start time or duration to print"
    end
    add(format_output(f.record_head, record_keywords, f, rec, f))
    for si, s in ipairs(rec.snapshots) do
      add(format_output(f.snapshot_head, snapshot_keywords, f, s, rec, f))
      for idx, r in ipairs(sorted_regions(s.regions, f)) do
        add(format_output(f.region, region_keywords, f, idx - 1, r, s, rec, f))
      end
      add(format_output(f.snapshot_tail, snapshot_keywords, f, s, rec, f))
      if si < #rec.snapshots and not total_sz_only then add("") end
    end
    add(format_output(f.record_tail, record_keywords, f, rec, f))
  end
  return table.concat(out, "\n")
end

return M
