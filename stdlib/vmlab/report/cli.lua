-- vmlab.report.cli: `vmlab report <kind> [options]` with damo 3.x's report
-- names and option names (long and short); damo 2's raw and heats are
-- aliases.  Every error is one line naming what was wrong, never a stdlib
-- file:line.

local args = require "vmlab.report.args"

local M = {}

local input = { "--input", "-i", meta = "<file>", default = "damon.data" }

local sort_fields = { "address", "access_rate", "age", "size", "temperature" }
local colorsets = { "gray", "flame", "emotion" }

local specs = {
  access = { input, { "--raw_form", flag = true }, { "--raw_number", flag = true },
    { "--style", choices = require("vmlab.report.access").styles },
    { "--percentiles_range", nargs = "+", type = "int", meta = "<number>..." },
    { "--sort_regions_by", nargs = "+", choices = sort_fields },
    { "--sort_regions_dsc", nargs = "+", choices = { "address", "access_rate", "age", "size", "temperature", "all" } },
    { "--temperature_weights", nargs = 3, type = "int", meta = "<size> <access rate> <age>" },
    { "--hist_logscale", flag = true }, { "--hist_cumulate", flag = true },
    { "--hist_ranges", nargs = "+", meta = "<min> <max>..." },
    { "--format", nargs = "+", append = true,
      meta = "<set|append> <record_head|snapshot_head|region|snapshot_tail|record_tail> <template>" },
    { "--format_record_head" }, { "--format_record_tail" }, { "--format_snapshot_head" },
    { "--format_snapshot_tail" }, { "--format_region" },
    { "--snapshot_heatmap_width", type = "int" }, { "--snapshot_heatmap_colorset", choices = colorsets },
    { "--snapshot_heatmap_static", flag = true }, { "--region_box", flag = true },
    { "--region_box_values", nargs = 3, choices = { "size", "access_rate", "age", "none" } },
    { "--region_box_min_max_length", nargs = 2, type = "int", meta = "<min> <max>" },
    { "--region_box_min_max_height", nargs = 2, type = "int", meta = "<min> <max>" },
    { "--region_box_colorset", choices = colorsets }, { "--region_box_scales", nargs = 3, choices = { "linear", "log" } },
    { "--region_box_align", choices = { "left", "right" } },
    { "--min_chars_for", nargs = 2, append = true, meta = "<keyword> <number>" },
    { "--total_sz_only", flag = true },
    { "--sz_region", nargs = 2, meta = "<min> <max>" }, { "--access_rate", nargs = 2, meta = "<min> <max>" },
    { "--age", nargs = 2, meta = "<min> <max>" }, { "--address", nargs = 2, append = true, meta = "<start> <end>" },
    { "--sz_snapshot", nargs = 2, append = true, meta = "<min> <max>" },
    { "--snapshot_time", nargs = 2, append = true, meta = "<start (ns)> <end (ns)>" },
    { "--snapshot_idx", nargs = 2, append = true, meta = "<start> <end>" },
    { "--temperature", nargs = 2, append = true, type = "int", meta = "<min> <max>" } },
  wss = { input, { "--range", "-r", nargs = 3, type = "int", meta = "<start> <stop> <step>" },
    { "--exclude_samples", type = "int", meta = "<# samples>" },
    { "--acc_thres", "-t", type = "int" }, { "--sz_thres", type = "int" },
    { "--work_time", type = "int", meta = "<micro-seconds>" },
    { "--sortby", "-s", choices = { "time", "size" } }, { "--plot", "-p", meta = "<file>" },
    { "--nr_cols_bar", type = "int" }, { "--raw_number", flag = true }, { "--all_wss", flag = true },
    { "--per_target", flag = true }, { "--collapse_targets", flag = true } },
  nr_regions = { input, { "--range", "-r", nargs = 3, type = "int", meta = "<start> <stop> <step>" },
    { "--sortby", "-s", choices = { "time", "size" } }, { "--plot", "-p", meta = "<file>" },
    { "--exclude_samples", type = "int" } },
  heatmap = { { "--output", meta = "<output>" }, input,
    { "--tid", type = "int" }, { "--resol", nargs = 2, type = "int", meta = "<time> <address>" },
    { "--time_range", nargs = "+", meta = "<start> <end> [base]" },
    { "--draw_range", choices = { "hottest", "all" } },
    { "--address_range", nargs = "+", append = true, meta = "<start> <end> [base]" },
    { "--abs_time", flag = true }, { "--abs_addr", flag = true }, { "--guide", flag = true },
    { "--guide_human", flag = true }, { "--stdout_colorset", choices = { "gray", "flame", "emotion", "none" } },
    { "--stdout_skip_colorset_example", flag = true },
    { "--size", nargs = 2, type = "int", meta = "<width> <height>" }, { "--title" } },
  record_info = { input, { "--raw_numbers", flag = true } },
  footprints = { { "--input", "-i", meta = "<file>", default = "damon.data.mem_footprint" },
    { "--range", "-r", nargs = 3, type = "int" }, { "--sortby", "-s", choices = { "time", "size" } },
    { "--plot", "-p" }, { "--nr_cols_bar", type = "int" }, { "--raw_number", flag = true },
    { "--all_footprint", flag = true } },
}
specs.raw = { input, { "--raw_number", flag = true } }
specs.heats = specs.heatmap

local usage = [[
usage: vmlab report <kind> [options]        (damo 3.x's reports; -h after a kind lists its options)
kinds:
  access       every snapshot's regions, damo's views    --style detailed|simple-boxes|temperature-sz-hist|
               recency-sz-hist|recency-percentiles|temperature-percentiles|cold|hot, --format <set|append>
               <area> <template>, --raw_form, --raw_number, --sort_regions_by, --region_box, --total_sz_only
  wss          working set size distribution             -r/--range <start> <stop> <step>, --sortby,
               --exclude_samples (20), --work_time <us>, --raw_number, --per_target, -p/--plot <img>
  nr_regions   number of regions distribution            -r/--range, --sortby, -p/--plot <img>
  heatmap      access frequency over time and space      --output stdout|raw|<x.png|svg|pdf>,
               --time_range, --address_range, --resol <time> <addr>, --abs_time, --abs_addr, --guide
  record_info  targets, time span and address ranges     [--raw_numbers]
  footprints   memory footprints (damo's .mem_footprint) [vsz|rss|sys_used|all]
  raw, heats   damo 2's names: access --raw_form, heatmap --output raw
common: -i/--input <file> (default damon.data): json_compressed, json or record
]]

-- "<n>" or "<n> <unit>" times and damo's sizes for the ranges
local function num(cmd, what, s)
  local n = tonumber(s)
  if n then return math.tointeger(n) or n end
  local units = { ns = 1, us = 1000, ms = 1000000, s = 1000000000, m = 60000000000, h = 3600000000000 }
  local v, u = s:match("^([%d.]+)%s*(%a+)$")
  if v and units[u] then return math.tointeger(tonumber(v) * units[u]) or tonumber(v) * units[u] end
  local sizes = { B = 1, K = 1 << 10, KiB = 1 << 10, M = 1 << 20, MiB = 1 << 20, G = 1 << 30, GiB = 1 << 30,
    T = 1 << 40, TiB = 1 << 40 }
  if v and sizes[u] then return math.tointeger(tonumber(v) * sizes[u]) or tonumber(v) * sizes[u] end
  error(("%s: %s: '%s' is not a number"):format(cmd, what, s), 0)
end

local function heatmap_opts(cmd, o)
  local t = { output = o.output, tid = o.tid, resol = o.resol, draw_range = o.draw_range, abs_time = o.abs_time,
    abs_addr = o.abs_addr, guide = o.guide, guide_human = o.guide_human, stdout_colorset = o.stdout_colorset,
    stdout_skip_colorset_example = o.stdout_skip_colorset_example, title = o.title }
  if o.size then t.width, t.height = o.size[1], o.size[2] end
  if o.time_range then
    if #o.time_range ~= 2 and #o.time_range ~= 3 then
      error(cmd .. ": --time_range takes <start> <end> [base] (nanoseconds; base: guided, guided_end or a time)", 0)
    end
    local b = o.time_range[3]
    if b and b ~= "guided" and b ~= "guided_end" then b = num(cmd, "--time_range", b) end
    t.time_range = { num(cmd, "--time_range", o.time_range[1]), num(cmd, "--time_range", o.time_range[2]), b }
  end
  if o.address_range then
    t.address_range = {}
    for _, r in ipairs(o.address_range) do
      if #r ~= 2 and #r ~= 3 then error(cmd .. ": --address_range takes <start> <end> [base] (base: guided or an address)", 0) end
      local b = r[3]
      if b and b ~= "guided" then b = num(cmd, "--address_range", b) end
      t.address_range[#t.address_range + 1] = { num(cmd, "--address_range", r[1]), num(cmd, "--address_range", r[2]), b }
    end
  end
  return t
end

-- damo's text_to_nr ("1,000", "max") and, with units, text_to_us ("1 s")
local function hist_value(cmd, s)
  if s == "max" then return 18446744073709551615.0 end
  if s == "min" then return 0 end
  local n = tonumber((s:gsub(",", "")))
  if n then return math.tointeger(n) or n end
  local v = num(cmd, "--hist_ranges", s)
  return v / 1000
end

local function access_opts(cmd, o)
  local t = {}
  for _, k in ipairs { "raw_form", "raw_number", "style", "percentiles_range", "sort_regions_by", "sort_regions_dsc",
    "temperature_weights", "hist_logscale", "hist_cumulate", "format_record_head", "format_record_tail",
    "format_snapshot_head", "format_snapshot_tail", "format_region", "snapshot_heatmap_width",
    "snapshot_heatmap_colorset", "snapshot_heatmap_static", "region_box", "region_box_values",
    "region_box_min_max_length", "region_box_min_max_height", "region_box_colorset", "region_box_scales",
    "region_box_align", "total_sz_only" } do
    t[k] = o[k]
  end
  if o.hist_ranges then
    if #o.hist_ranges % 2 ~= 0 then error(cmd .. ": --hist_ranges takes <min> <max> pairs", 0) end
    t.hist_ranges = {}
    for i = 1, #o.hist_ranges, 2 do
      t.hist_ranges[#t.hist_ranges + 1] = { hist_value(cmd, o.hist_ranges[i]), hist_value(cmd, o.hist_ranges[i + 1]) }
    end
  end
  if o.format then
    t.format = {}
    for _, f in ipairs(o.format) do
      if #f ~= 3 then
        error(cmd .. ": --format takes <set|append> <area> <template> (got " .. #f .. " values)", 0)
      end
      t.format[#t.format + 1] = f
    end
  end
  local filter = require "vmlab.report.filter"
  local function conv(opt, how, v)
    local n = filter[how](v)
    if n == nil then error(("%s: --%s: '%s' is not %s"):format(cmd, opt, v, ({ bytes = "a size", ns = "a time",
      us = "a time", percent = "a percentage", nr = "a number" })[how]), 0) end
    return n
  end
  for opt, how in pairs { sz_region = "bytes", access_rate = "percent", age = "us" } do
    if o[opt] then t[opt] = { conv(opt, how, o[opt][1]), conv(opt, how, o[opt][2]) } end
  end
  for opt, how in pairs { address = "bytes", sz_snapshot = "bytes", snapshot_time = "ns", snapshot_idx = "nr" } do
    if o[opt] then
      t[opt] = {}
      for _, p in ipairs(o[opt]) do t[opt][#t[opt] + 1] = { conv(opt, how, p[1]), conv(opt, how, p[2]) } end
    end
  end
  t.temperature = o.temperature
  if o.min_chars_for then
    t.min_chars_for = {}
    for _, m in ipairs(o.min_chars_for) do
      local n = math.tointeger(tonumber(m[2]))
      if not n then error(cmd .. ": --min_chars_for takes <keyword> <number>, not '" .. m[2] .. "'", 0) end
      t.min_chars_for[#t.min_chars_for + 1] = { m[1], n }
    end
  end
  return t
end

-- Strip "stdlib/...lua:N: " from a message: a report error is about the
-- input, and a position in vmlab's own files tells the user nothing.
local function clean(msg)
  msg = tostring(msg)
  msg = msg:gsub("[^%s:]*stdlib/vmlab/[%w_/]+%.lua:%d+: ", "")
  msg = msg:gsub("%[string \"[^\"]*\"%]:%d+: ", "")
  return msg
end
M.clean = clean

local function run(kind, argv)
  local report = require "vmlab.report"
  local cmd = "vmlab report " .. kind
  local o, pos = args.parse(cmd, specs[kind], argv)
  local metric
  if kind == "footprints" then
    metric = pos[1]
    if #pos > 1 then error(cmd .. ": unexpected argument '" .. pos[2] .. "'", 0) end
  elseif #pos > 0 then
    error(("%s: unexpected argument '%s'; valid options: %s"):format(cmd, pos[1], args.listing(specs[kind])), 0)
  end
  local function chk(r, e)
    if r == nil then error(e, 0) end
    return r, e
  end
  if kind == "access" then
    return chk(report.access(o.input, access_opts(cmd, o)))
  elseif kind == "raw" then
    return report.access(o.input, { raw_form = true, raw_number = o.raw_number })
  elseif kind == "wss" then
    local collapse = true
    if o.per_target then collapse = false end
    local _, text = chk(report.wss(o.input, { range = o.range, exclude_samples = o.exclude_samples,
      acc_thres = o.acc_thres, sz_thres = o.sz_thres, work_time = o.work_time, sortby = o.sortby,
      plot = o.plot, nr_cols_bar = o.nr_cols_bar, raw_number = o.raw_number, all_wss = o.all_wss,
      collapse_targets = collapse }))
    return not o.plot and text or ""
  elseif kind == "nr_regions" then
    local _, text = chk(report.nr_regions(o.input, { range = o.range, sortby = o.sortby, plot = o.plot,
      exclude_samples = o.exclude_samples }))
    return not o.plot and text or ""
  elseif kind == "heatmap" or kind == "heats" then
    local t = heatmap_opts(cmd, o)
    if kind == "heats" then t.output = t.output or "raw" end
    local r = chk(report.heatmap(o.input, t))
    return r == true and "" or r
  elseif kind == "record_info" then
    return (report.record_info(o.input, { raw_numbers = o.raw_numbers }))
  elseif kind == "footprints" then
    return chk(report.footprints(o.input, { metric = metric, range = o.range, sortby = o.sortby,
      plot = o.plot, nr_cols_bar = o.nr_cols_bar, raw_number = o.raw_number, all_footprint = o.all_footprint }))
  end
end

function M.main(kind, ...)
  local argv = { ... }
  if kind == nil or kind == "-h" or kind == "--help" then
    io.stdout:write(usage)
    return kind == nil and 1 or 0
  end
  if not specs[kind] then
    io.stderr:write("vmlab report: unknown report '", tostring(kind), "'; valid reports: access, wss, ",
      "nr_regions, heatmap, record_info, footprints (damo 2's raw, heats)\n")
    return 1
  end
  for _, a in ipairs(argv) do
    if a == "-h" or a == "--help" then
      io.stdout:write(("usage: vmlab report %s [options]\noptions: %s\n"):format(kind, args.listing(specs[kind])))
      return 0
    end
  end
  local ok, text = pcall(run, kind, argv)
  if not ok then
    local msg = clean(text):gsub("^vmlab report [%w_]+: ", "")
    io.stderr:write("vmlab report ", kind, ": ", msg, "\n")
    return 1
  end
  io.stdout:write(text)
  return 0
end

return M
