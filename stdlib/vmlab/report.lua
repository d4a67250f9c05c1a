-- vmlab.report: damo's reports (damo 3.x names, options and numbers) on
-- recorded or live snapshots.
--
--   report.access(src, opts)       damo's access views (default, --style
--                                  presets, templates) or the raw form
--   report.wss(src, opts)          working set size distribution
--   report.nr_regions(src, opts)   number of regions distribution
--   report.heatmap(src, opts)      time x address access frequency: stdout
--                                  digits, damo's raw triples, or an image
--   report.record_info(src, opts)  targets, time span, address ranges
--   report.footprints(path, opts)  memory footprint distribution (damo's
--                                  .mem_footprint files)
--   report.replay_oracle(src)      a replay backend oracle from a record
--   report.replay(src, seg, opts)  touch a segment as the record did
--   report.main(kind, ...)         `vmlab report <kind> [options]`
-- damo 2's names stay as aliases: raw = access --raw_form, heats = heatmap
-- --output raw.  src is a record file's path or an array of snapshots as
-- monitors and vmlab.record.read give them.

local vmlab = require "vmlab"
local fmt = require "vmlab.report.fmt"
local records_of = require "vmlab.report.records"
local hmap = require "vmlab.report.heatmap"

local M = {}

local function load(src) return records_of.load(src) end

local function checkopts(opts, fname, valid)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(fname .. ": an options table expected, got " .. type(opts), 3) end
  vmlab.checkopts(opts, fname, valid)
  return opts
end

local function range_list(r, fname)
  if r == nil then return nil end
  if type(r) ~= "table" or #r ~= 3 then error(fname .. ": range is {start, stop, step}", 3) end
  for _, v in ipairs(r) do
    if math.type(v) ~= "integer" then error(fname .. ": range takes whole numbers", 3) end
  end
  if r[3] == 0 then error(fname .. ": a range's step cannot be 0", 3) end
  local out = {}
  for p = r[1], r[2] - (r[3] > 0 and 1 or -1), r[3] do out[#out + 1] = p end
  return out
end

-- ---- access ----------------------------------------------------------------------

local access_opts = { "raw_form", "raw_number", "style", "sort_regions_by", "sort_regions_dsc",
  "temperature_weights", "hist_logscale", "hist_cumulate", "hist_ranges", "percentiles_range", "format",
  "format_record_head", "format_record_tail", "format_snapshot_head", "format_snapshot_tail", "format_region",
  "snapshot_heatmap_width", "snapshot_heatmap_colorset", "snapshot_heatmap_static", "region_box",
  "region_box_values", "region_box_min_max_length", "region_box_min_max_height", "region_box_colorset",
  "region_box_scales", "region_box_align", "min_chars_for", "total_sz_only", "sz_region", "access_rate", "age",
  "address", "sz_snapshot", "snapshot_time", "snapshot_idx", "temperature", "intervals" }

local function raw_form(recs, raw)
  local lines = {}
  local p <close>, done = records_of.progress("report access", recs), 0
  for _, rec in ipairs(recs) do
    local snaps = rec.snapshots
    if #snaps > 0 then
      local base = snaps[1].start_time
      lines[#lines + 1] = "base_time_absolute: " .. fmt.time_ns(base, raw)
      lines[#lines + 1] = "data source: unknown\n"
      for _, s in ipairs(snaps) do
        done = done + 1
        p:update(done)
        lines[#lines + 1] = string.format("monitoring_start:    %16s", fmt.time_ns(s.start_time - base, raw))
        lines[#lines + 1] = string.format("monitoring_end:      %16s", fmt.time_ns(s.end_time - base, raw))
        lines[#lines + 1] = string.format("monitoring_duration: %16s", fmt.time_ns(s.end_time - s.start_time, raw))
        lines[#lines + 1] = "target_id: " .. fmt.u64(rec.target_id)
        lines[#lines + 1] = "nr_regions: " .. #s.regions
        lines[#lines + 1] = string.format("# %10s %12s  %12s  %11s %5s", "start_addr", "end_addr", "length",
          "nr_accesses", "age")
        for _, r in ipairs(s.regions) do
          lines[#lines + 1] = string.format("%012x-%012x (%12s) %11d %5d", r.start, r["end"],
            fmt.sz(r["end"] - r.start, raw), r.samples, r.age or -1)
        end
        lines[#lines + 1] = ""
      end
    end
  end
  lines[#lines + 1] = ""
  return table.concat(lines, "\n")
end

local function check_list(v, name, n, kind, choices)
  if v == nil then return end
  local what = name .. " is a list of " .. (n and (n .. " ") or "") .. kind
  if choices then what = what .. " (" .. table.concat(choices, ", ") .. ")" end
  if type(v) ~= "table" or (n and #v ~= n) or #v == 0 then error("report.access: " .. what, 4) end
  for _, x in ipairs(v) do
    local ok = (kind == "whole numbers" and math.type(x) == "integer") or (kind == "numbers" and type(x) == "number")
      or (kind == "names" and type(x) == "string")
    if ok and choices then
      ok = false
      for _, c in ipairs(choices) do if c == x then ok = true end end
    end
    if not ok then error("report.access: " .. what .. ", not " .. tostring(x), 4) end
  end
end

local function check_choice(v, name, choices)
  if v == nil then return end
  for _, c in ipairs(choices) do if c == v then return end end
  error(("report.access: %s '%s' is not one of %s"):format(name, tostring(v), table.concat(choices, ", ")), 4)
end

local function check_access(o)
  local access = require "vmlab.report.access"
  if o.style ~= nil and o.style ~= "raw" then
    local known = false
    for _, st in ipairs(access.styles) do if st == o.style then known = true end end
    if not known then
      error("report.access: style '" .. tostring(o.style) .. "' is not implemented; implemented styles: " ..
        table.concat(access.styles, ", ") .. " (and raw_form=true)", 3)
    end
  end
  check_list(o.sort_regions_by, "sort_regions_by", nil, "names", access.sort_fields)
  local dsc = { "all" }
  for _, x in ipairs(access.sort_fields) do dsc[#dsc + 1] = x end
  check_list(o.sort_regions_dsc, "sort_regions_dsc", nil, "names", dsc)
  check_list(o.temperature_weights, "temperature_weights", 3, "whole numbers")
  check_list(o.percentiles_range, "percentiles_range", nil, "whole numbers")
  if o.percentiles_range and #o.percentiles_range <= 3 and o.percentiles_range[3] == 0 then
    error("report.access: a percentiles_range step cannot be 0", 3)
  end
  if o.hist_ranges ~= nil then
    if type(o.hist_ranges) ~= "table" or #o.hist_ranges == 0 then
      error("report.access: hist_ranges is a list of {min, max} pairs", 3)
    end
    for _, r in ipairs(o.hist_ranges) do
      if type(r) ~= "table" or type(r[1]) ~= "number" or type(r[2]) ~= "number" then
        error("report.access: hist_ranges is a list of {min, max} pairs of numbers", 3)
      end
    end
  end
  check_list(o.region_box_values, "region_box_values", 3, "names", { "size", "access_rate", "age", "none" })
  if o.region_box_values and o.region_box_values[1] == "none" then
    error("report.access: the region box needs a value for its length (region_box_values[1] cannot be 'none')", 3)
  end
  check_list(o.region_box_scales, "region_box_scales", 3, "names", { "linear", "log" })
  check_list(o.region_box_min_max_length, "region_box_min_max_length", 2, "whole numbers")
  check_list(o.region_box_min_max_height, "region_box_min_max_height", 2, "whole numbers")
  check_choice(o.region_box_colorset, "region_box_colorset", { "gray", "flame", "emotion" })
  check_choice(o.snapshot_heatmap_colorset, "snapshot_heatmap_colorset", { "gray", "flame", "emotion" })
  check_choice(o.region_box_align, "region_box_align", { "left", "right" })
  local w = o.snapshot_heatmap_width
  if w ~= nil and (math.type(w) ~= "integer" or w < 1) then
    error("report.access: snapshot_heatmap_width is a column count >= 1", 3)
  end
  for _, k in ipairs { "format_record_head", "format_record_tail", "format_snapshot_head", "format_snapshot_tail",
    "format_region" } do
    if o[k] ~= nil and type(o[k]) ~= "string" then error("report.access: " .. k .. " is a template string", 3) end
  end
  local function pair(v, name, what)
    if type(v) ~= "table" or type(v[1]) ~= "number" or type(v[2]) ~= "number" or v[1] > v[2] then
      error("report.access: " .. name .. " is {min, max} (" .. what .. ", min <= max)", 4)
    end
  end
  local function pairs_of(v, name, what)
    if v == nil then return end
    if type(v) ~= "table" or #v == 0 then error("report.access: " .. name .. " is a list of {min, max} pairs", 3) end
    for _, p in ipairs(v) do pair(p, name, what) end
  end
  if o.sz_region ~= nil then pair(o.sz_region, "sz_region", "bytes") end
  if o.access_rate ~= nil then pair(o.access_rate, "access_rate", "percent") end
  if o.age ~= nil then pair(o.age, "age", "microseconds") end
  pairs_of(o.address, "address", "addresses")
  pairs_of(o.sz_snapshot, "sz_snapshot", "bytes")
  pairs_of(o.snapshot_time, "snapshot_time", "ns")
  pairs_of(o.snapshot_idx, "snapshot_idx", "indices")
  pairs_of(o.temperature, "temperature", "temperatures")
  if o.address then
    local sorted = {}
    for i, r in ipairs(o.address) do sorted[i] = r end
    table.sort(sorted, function(a, b) return a[1] < b[1] end)
    for i = 2, #sorted do
      if sorted[i - 1][2] > sorted[i][1] then error("report.access: address ranges overlap", 3) end
    end
  end
  if o.min_chars_for ~= nil then
    if type(o.min_chars_for) ~= "table" then error("report.access: min_chars_for is a list of {keyword, count}", 3) end
    for _, e in ipairs(o.min_chars_for) do
      if type(e) ~= "table" or type(e[1]) ~= "string" or math.type(e[2]) ~= "integer" then
        error("report.access: min_chars_for is a list of {keyword, count}", 3)
      end
    end
  end
end

-- access(src, opts) -> text | nil, err: damo's `report access`.
--   raw_form=true: every snapshot's regions, raw.  Otherwise damo's views:
--   style="detailed" (default) | "simple-boxes" | "temperature-sz-hist" |
--   "recency-sz-hist" ("cold-memory-tail") | "recency-percentiles"
--   ("idle-time-percentiles") | "temperature-percentiles" | "cold" | "hot";
--   format={{"set"|"append", area, template}, ...} and damo's other format
--   options (raw_number, sort_regions_by, temperature_weights, hist_*,
--   percentiles_range, snapshot_heatmap_*, region_box*, min_chars_for,
--   total_sz_only): see vmlab.report.access; damo's record filters
--   (sz_region, access_rate, age, address, sz_snapshot, snapshot_time,
--   snapshot_idx, temperature): see vmlab.report.filter.  intervals=
--   {sample=, aggr=} (seconds, as record.write) for snapshots that carry
--   none, e.g. a monitor's.
function M.access(src, opts)
  opts = checkopts(opts, "report.access", access_opts)
  check_access(opts)
  local raw = opts.raw_number and true or false
  local recs = load(src)
  local iv = opts.intervals
  if iv ~= nil then
    -- as record.write takes them: seconds
    if type(iv) ~= "table" or type(iv.sample) ~= "number" or type(iv.aggr) ~= "number" or iv.sample <= 0 or
      iv.aggr < iv.sample then
      error("report.access: intervals is {sample=, aggr=} in seconds (0 < sample <= aggr)", 2)
    end
    for _, rec in ipairs(recs) do
      rec.intervals = rec.intervals or { sample = math.floor(iv.sample * 1e6 + 0.5),
        aggr = math.floor(iv.aggr * 1e6 + 0.5), update = math.floor((iv.update or 1) * 1e6 + 0.5) }
    end
  end
  local _, ferr = require("vmlab.report.filter").apply(recs, opts)
  if ferr then return nil, ferr end
  if opts.raw_form or opts.style == "raw" then return raw_form(recs, raw) end
  local text, err = require("vmlab.report.access").render(recs, opts)
  if not text then return nil, err end
  return text .. "\n"
end

-- damo 2's name
function M.raw(src, opts)
  opts = checkopts(opts, "report.raw", { "raw_number" })
  return M.access(src, { raw_form = true, raw_number = opts.raw_number })
end

-- ---- distributions (damo's _damo_dist) ---------------------------------------------

local function pidx(p, n)
  local i = fmt.trunc(p / 100.0 * n)
  if i == n then i = i - 1 end
  return i + 1
end

local function fmt_dists(name, dists, percentiles, all, format, raw, cols)
  local lines = { string.format("# <percentile> <%s>", name) }
  if #dists == 0 then
    lines[#lines + 1] = "# no snapshot"
    return table.concat(lines, "\n")
  end
  local sum = 0
  for _, v in ipairs(dists) do sum = sum + v end
  lines[#lines + 1] = "# avr:\t" .. format(sum / #dists, raw)
  if all then
    for i, v in ipairs(dists) do lines[#lines + 1] = string.format("%d %s", i - 1, format(v, raw)) end
    return table.concat(lines, "\n")
  end
  local per_col = 1
  if cols > 0 then
    local max = 0
    for _, p in ipairs(percentiles) do
      local v = dists[pidx(p, #dists)]
      if max <= v then max = v end
    end
    if max > 0 then per_col = max / cols end
  end
  for _, p in ipairs(percentiles) do
    local v = dists[pidx(p, #dists)]
    local line = string.format("%3d %15s", p, format(v, raw))
    if cols > 0 then
      local n = fmt.trunc(v / per_col)
      line = line .. " |" .. string.rep("*", n) .. string.rep(" ", cols - n) .. "|"
    end
    lines[#lines + 1] = line
  end
  return table.concat(lines, "\n")
end

local function plot(path, series, xlabel, ylabel)
  local image = require "vmlab.report.image"
  local xs, ys = {}, {}
  for i, p in ipairs(series) do xs[i], ys[i] = p[1], p[2] end
  return image.plot(path, xs, ys, { xlabel = xlabel, ylabel = ylabel })
end

local function sz_value(v, raw) return fmt.sz(v, raw) end

local wss_opts = { "range", "percentiles", "exclude_samples", "acc_thres", "sz_thres", "work_time", "sortby",
  "plot", "nr_cols_bar", "raw_number", "all_wss", "collapse_targets", "thres" }

-- wss(src, {range={0,101,25}, exclude_samples=20, acc_thres=1, sz_thres=1,
--   work_time=1 (us), sortby="size"|"time", raw_number=, all_wss=,
--   collapse_targets=true, nr_cols_bar=59, plot=path})
-- -> dists ({{target_id=, values={...}}}), text
function M.wss(src, opts)
  opts = checkopts(opts, "report.wss", wss_opts)
  local percentiles = opts.percentiles or range_list(opts.range or { 0, 101, 25 }, "report.wss")
  local sortby = opts.sortby or "size"
  if sortby ~= "size" and sortby ~= "time" then
    error("report.wss: sortby is 'size' or 'time', not '" .. tostring(sortby) .. "'", 2)
  end
  for _, p in ipairs(percentiles) do
    if type(p) ~= "number" or p < 0 or p > 100 then error("report.wss: a percentile is a number from 0 to 100", 2) end
  end
  local acc_thres = opts.acc_thres or opts.thres or 1
  local sz_thres = opts.sz_thres or 1
  local work_time = opts.work_time or 1
  if math.type(work_time) ~= "integer" or work_time < 1 then error("report.wss: work_time is microseconds >= 1", 2) end
  local skip = opts.exclude_samples or 20
  if math.type(skip) ~= "integer" or skip < 0 then error("report.wss: exclude_samples is a count >= 0", 2) end
  local recs = records_of.adjust(load(src), work_time, skip)
  local dists = {}
  local p <close>, done = records_of.progress("report wss", recs), 0
  for _, rec in ipairs(recs) do
    local values = {}
    for _, s in ipairs(rec.snapshots) do
      done = done + 1
      p:update(done)
      local wss = 0
      for _, r in ipairs(s.regions) do
        local sz = r["end"] - r.start
        if r.samples >= acc_thres and sz >= sz_thres then wss = wss + sz end
      end
      values[#values + 1] = wss
    end
    if sortby == "size" then table.sort(values) end
    -- damo keys them by target id: a later record of the same id replaces
    local found
    for _, d in ipairs(dists) do if d.target_id == rec.target_id then d.values = values; found = true end end
    if not found then dists[#dists + 1] = { target_id = rec.target_id, values = values } end
  end
  if opts.collapse_targets ~= false then
    local sum = {}
    for _, d in ipairs(dists) do
      for i, v in ipairs(d.values) do sum[i] = (sum[i] or 0) + v end
    end
    dists = { { target_id = 0, values = sum } }
  end
  local raw = opts.raw_number and true or false
  local out = {}
  for _, d in ipairs(dists) do
    out[#out + 1] = "# target_id\t" .. fmt.u64(d.target_id)
    out[#out + 1] = fmt_dists("wss", d.values, percentiles, opts.all_wss, sz_value, raw,
      opts.nr_cols_bar or 59)
  end
  local text = table.concat(out, "\n") .. "\n"
  if opts.plot then
    local series = {}
    for _, p in ipairs(percentiles) do
      if #dists[1].values > 0 then series[#series + 1] = { p, dists[1].values[pidx(p, #dists[1].values)] } end
    end
    local ok, err = plot(opts.plot, series, sortby == "size" and "percentile" or "runtime (percent)",
      "working set size (bytes)")
    if not ok then return nil, err end
  end
  return dists, text
end

-- nr_regions(src, {range=, percentiles=, sortby=, exclude_samples=20, plot=})
-- -> dists, text (per target, as damo: no collapsing)
function M.nr_regions(src, opts)
  opts = checkopts(opts, "report.nr_regions", { "range", "percentiles", "sortby", "plot", "exclude_samples" })
  local percentiles = opts.percentiles or range_list(opts.range, "report.nr_regions") or { 0, 25, 50, 75, 100 }
  local sortby = opts.sortby or "size"
  if sortby ~= "size" and sortby ~= "time" then
    error("report.nr_regions: sortby is 'size' or 'time', not '" .. tostring(sortby) .. "'", 2)
  end
  local skip = opts.exclude_samples or 20
  local out = { "# <percentile> <# regions>" }
  local dists = {}
  for _, rec in ipairs(load(src)) do
    local values = {}
    for k = skip + 1, #rec.snapshots do values[#values + 1] = #rec.snapshots[k].regions end
    if sortby == "size" then table.sort(values) end
    dists[#dists + 1] = { target_id = rec.target_id, values = values }
    out[#out + 1] = "# target_id\t" .. fmt.u64(rec.target_id)
    if #values == 0 then
      out[#out + 1] = "# no snapshot"
    else
      local sum = 0
      for _, v in ipairs(values) do sum = sum + v end
      out[#out + 1] = "# avr:\t" .. fmt.d(sum / #values)
      for _, p in ipairs(percentiles) do
        out[#out + 1] = string.format("%d\t%d", fmt.trunc(p), values[pidx(p, #values)])
      end
    end
  end
  local text = table.concat(out, "\n") .. "\n"
  if opts.plot then
    local series = {}
    local v = dists[1] and dists[1].values or {}
    for _, p in ipairs(percentiles) do if #v > 0 then series[#series + 1] = { p, v[pidx(p, #v)] } end end
    local ok, err = plot(opts.plot, series, sortby == "size" and "percentile" or "runtime (percent)",
      "number of monitoring target regions")
    if not ok then return nil, err end
  end
  return dists, text
end

-- ---- heatmap and record_info -----------------------------------------------------------

-- record_info(src, {raw_numbers=}) -> text, guides
function M.record_info(src, opts)
  opts = checkopts(opts, "report.record_info", { "raw_numbers" })
  local guides = hmap.guides(load(src))
  return hmap.guide_text(guides, opts.raw_numbers and true or false), guides
end

local heatmap_opts = { "output", "tid", "resol", "time_range", "address_range", "draw_range", "abs_time",
  "abs_addr", "guide", "guide_human", "stdout_colorset", "stdout_skip_colorset_example", "width", "height",
  "title" }

-- heatmap(src, {output="stdout"|"raw"|"x.png|svg|pdf", resol={time, addr},
--   time_range={start_ns, end_ns}, address_range={{start, end}, ...},
--   draw_range="hottest"|"all", tid=, abs_time=, abs_addr=, guide=,
--   stdout_colorset="gray"|"flame"|"emotion"|"none", ...})
-- -> text (stdout, raw, guide) | true (an image) | nil, err
function M.heatmap(src, opts)
  opts = checkopts(opts, "report.heatmap", heatmap_opts)
  local recs = load(src)
  local with_iv = 0
  for _, r in ipairs(recs) do if r.intervals then with_iv = with_iv + 1 end end
  if with_iv ~= 0 and with_iv ~= #recs then
    return nil, "some records have intervals while some not: cannot proceed"
  end
  local output = opts.output or "stdout"
  if opts.guide then return hmap.guide_text(hmap.guides(recs), true) end
  if opts.guide_human then return hmap.guide_text(hmap.guides(recs), false) end
  local resol = opts.resol or (output == "stdout" and { 40, 80 } or { 500, 500 })
  if type(resol) ~= "table" or math.type(resol[1]) ~= "integer" or math.type(resol[2]) ~= "integer" or
    resol[1] < 1 or resol[2] < 1 or resol[1] * resol[2] > 1 << 24 then
    error("report.heatmap: resol is {time, address} pixel counts >= 1 (at most 2^24 pixels)", 2)
  end
  local guides = hmap.guides(recs)
  if #guides == 0 then return nil, "nothing to draw: the record has no snapshots" end
  local tid = opts.tid
  if tid == nil then tid = guides[1].target_id end
  local g
  for _, x in ipairs(guides) do if x.target_id == tid then g = x break end end
  if not g then return nil, "no snapshots of target " .. fmt.u64(tid) end
  -- damo's "<start> <end> [base]": base "guided" (the guide's start),
  -- "guided_end" (its end) or a number, added to start and end
  local time_range = opts.time_range or { g.start_time, g.end_time }
  if time_range[3] ~= nil then
    local b = time_range[3]
    if b == "guided" then b = g.start_time elseif b == "guided_end" then b = g.end_time end
    if type(b) ~= "number" then error("report.heatmap: a time_range base is 'guided', 'guided_end' or a number", 2) end
    time_range = { b + time_range[1], b + time_range[2] }
  end
  local ranges = opts.address_range
  if ranges then
    local guided, out = {}, {}
    if (opts.draw_range or "hottest") == "all" then
      for _, r in ipairs(g.regions) do guided[#guided + 1] = r end
    else
      guided[1] = hmap.hottest(g)
    end
    for i, r in ipairs(ranges) do
      local b = r[3]
      if b == "guided" then
        if not guided[i] then return nil, "address range " .. i .. ": no guided range to base it on" end
        b = guided[i].start
      end
      if b ~= nil and type(b) ~= "number" then error("report.heatmap: an address_range base is 'guided' or a number", 2) end
      out[i] = b and { b + r[1], b + r[2] } or { r[1], r[2] }
    end
    ranges = out
  end
  if not ranges then
    if (opts.draw_range or "hottest") == "all" then
      ranges = {}
      for _, r in ipairs(g.regions) do ranges[#ranges + 1] = { r.start, r["end"] } end
    else
      local h = hmap.hottest(g)
      ranges = { { h.start, h["end"] } }
    end
  end
  local selected = {}
  for _, r in ipairs(recs) do if r.target_id == tid then selected[#selected + 1] = r end end
  local texts = {}
  for idx, range in ipairs(ranges) do
    local hm = hmap.build(selected, time_range, range, resol)
    if output == "stdout" then
      local set = opts.stdout_colorset or "gray"
      if set == "none" then set = nil end
      texts[#texts + 1] = hmap.ascii_text(hm, set, not opts.stdout_skip_colorset_example)
    elseif output == "raw" then
      texts[#texts + 1] = hmap.raw_text(hm, opts.abs_time, opts.abs_addr)
    else
      local path = output
      if idx > 1 then path = output:gsub("(%.[^.]*)$", "." .. (idx - 1) .. "%1") end
      local ok, err = M.heatmap_image(path, hm, opts)
      if not ok then return nil, err end
    end
  end
  if output ~= "stdout" and output ~= "raw" then return true end
  return table.concat(texts)
end

-- damo 2's name: the raw triples
function M.heats(src, opts)
  opts = checkopts(opts, "report.heats", heatmap_opts)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.output = o.output or "raw"
  return M.heatmap(src, o)
end

-- The heatmap as an image: x time, y address (lowest at the bottom), the
-- colour bar in access frequency, as damo's gnuplot one.
function M.heatmap_image(path, hm, opts)
  local heat = {}
  for a = 1, hm.addr_resol do
    local row = {}
    for t = 1, hm.time_resol do row[t] = hm.heat[t][a] or (0 / 0) end
    heat[a] = row
  end
  local t0 = opts.abs_time and hm.time_start or 0
  local a0 = opts.abs_addr and hm.addr_start or 0
  return require("vmlab.report.image").heatmap(path, heat, {
    t0 = t0 / 1e9, t1 = (t0 + hm.time_unit * hm.time_resol) / 1e9,
    a0 = a0, a1 = a0 + hm.addr_unit * hm.addr_resol, width = opts.width, height = opts.height,
    title = opts.title, unit = hm.unit == "hz" and "Access frequency (hz)" or "Access frequency (samples)" })
end

-- ---- footprints, replay, the command line ---------------------------------------------

local ext = require "vmlab.report.extra"
M.footprints = ext.footprints
M.replay_oracle = ext.replay_oracle
M.replay = ext.replay

M.main = require("vmlab.report.cli").main
return M
