-- vmlab.report: damo's reports on recorded (or live) snapshots.
--
--   report.raw(src)                 the regions of every snapshot, as text
--   report.wss(src, opts)           working-set-size percentiles
--   report.nr_regions(src, opts)    region-count percentiles
--   report.heats(src, opts)         a time x address matrix of access heat
--   report.heatmap(src, opts)       that matrix as a PNG/SVG/PDF image, or
--                                   in ANSI colours on the terminal
--   report.main(kind, ...)          `vmlab report <kind> -i <file> [...]`
--
-- src is a record file's path or an array of snapshots as monitors and
-- vmlab.record.read give them.

local record = require "vmlab.record"

local M = {}

local function load(src)
  if type(src) == "string" then
    local snaps, err = record.read(src)
    if not snaps then error(err, 0) end
    return snaps
  end
  if type(src) ~= "table" then error("a record file's path or an array of snapshots expected", 3) end
  return src
end

local function target_of(snap, id)
  for _, tg in ipairs(snap.targets) do
    if id == nil or tg.id == id then return tg end
  end
end

local function percentile(sorted, p)
  if #sorted == 0 then return nil end
  local idx = math.floor((#sorted - 1) * p / 100 + 0.5) + 1
  return sorted[idx]
end

local function fmt_bytes(n)
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local u = 1
  while n >= 1024 and u < #units do n = n / 1024; u = u + 1 end
  return u == 1 and string.format("%d %s", n, units[u]) or string.format("%.3f %s", n, units[u])
end

function M.raw(src)
  local snaps = load(src)
  local out = {}
  local base = snaps[1] and (snaps[1].start_us or 0) or 0
  out[#out + 1] = string.format("base_time_absolute: %.3f s", base / 1e6)
  for _, s in ipairs(snaps) do
    out[#out + 1] = ""
    out[#out + 1] = string.format("monitoring_start:    %12.3f ms", ((s.start_us or 0) - base) / 1e3)
    out[#out + 1] = string.format("monitoring_end:      %12.3f ms", ((s.time_us or 0) - base) / 1e3)
    for _, tg in ipairs(s.targets) do
      out[#out + 1] = string.format("target_id:           %d", tg.id)
      out[#out + 1] = string.format("nr_regions:          %d", #tg.regions)
      out[#out + 1] = "# start_addr end_addr length nr_accesses age"
      for _, r in ipairs(tg.regions) do
        out[#out + 1] = string.format("%012x-%012x (%s) %d %d", r.start, r["end"], fmt_bytes(r["end"] - r.start),
          r.nr_accesses, r.age or 0)
      end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- Per snapshot: bytes of regions accessed at least thres times.
local function wss_series(snaps, opts)
  local thres = opts.thres or 1
  local series = {}
  for _, s in ipairs(snaps) do
    local tg = target_of(s, opts.target)
    if tg then
      local sz = 0
      for _, r in ipairs(tg.regions) do
        if r.nr_accesses >= thres then sz = sz + (r["end"] - r.start) end
      end
      series[#series + 1] = { time_us = s.time_us, value = sz }
    end
  end
  return series
end

local function nr_regions_series(snaps, opts)
  local series = {}
  for _, s in ipairs(snaps) do
    local tg = target_of(s, opts.target)
    if tg then series[#series + 1] = { time_us = s.time_us, value = #tg.regions } end
  end
  return series
end

-- Percentiles of a series, sorted by size (the distribution) or by time
-- (the series itself, sampled at those percentiles of the run).
local function percentiles(series, opts)
  local ps = opts.percentiles or { 0, 25, 50, 75, 100 }
  local values = {}
  for i, x in ipairs(series) do values[i] = x.value end
  if (opts.sortby or "size") == "size" then
    table.sort(values)
  elseif opts.sortby ~= "time" then
    error("sortby: 'size' or 'time', not '" .. tostring(opts.sortby) .. "'", 3)
  end
  local out = {}
  for _, p in ipairs(ps) do
    if type(p) ~= "number" or p < 0 or p > 100 then error("a percentile is a number from 0 to 100", 3) end
    out[#out + 1] = { percentile = p, value = percentile(values, p) }
  end
  return out
end

local function render(rows, title, bytes)
  local out = { string.format("# <percentile> <%s>", title) }
  for _, r in ipairs(rows) do
    out[#out + 1] = string.format("%3d %s", r.percentile, r.value == nil and "-" or
      (bytes and fmt_bytes(r.value) or tostring(r.value)))
  end
  return table.concat(out, "\n") .. "\n"
end

-- wss(src, {percentiles=, sortby="size"|"time", thres=1, target=}) -> rows, text
function M.wss(src, opts)
  opts = opts or {}
  local rows = percentiles(wss_series(load(src), opts), opts)
  return rows, render(rows, "wss", true)
end

function M.nr_regions(src, opts)
  opts = opts or {}
  local rows = percentiles(nr_regions_series(load(src), opts), opts)
  return rows, render(rows, "nr_regions", false)
end

-- heats(src, {time_res=, addr_res=, target=}) -> {heat=rows x cols, t0, t1, a0, a1}
-- A cell's heat is the access count of the regions over it, weighted by how
-- much of the cell (in address and in time) they cover.
function M.heats(src, opts)
  opts = opts or {}
  local snaps = load(src)
  local cols, rows = opts.time_res or 80, opts.addr_res or 40
  if math.type(cols) ~= "integer" or math.type(rows) ~= "integer" or cols < 1 or rows < 1 then
    error("time_res and addr_res are whole numbers >= 1", 2)
  end
  local t0, t1, a0, a1
  for _, s in ipairs(snaps) do
    local tg = target_of(s, opts.target)
    if tg then
      local st = s.start_us or 0
      t0 = math.min(t0 or st, st)
      t1 = math.max(t1 or s.time_us, s.time_us)
      for _, r in ipairs(tg.regions) do
        a0 = math.min(a0 or r.start, r.start)
        a1 = math.max(a1 or r["end"], r["end"])
      end
    end
  end
  local heat = {}
  for y = 1, rows do
    heat[y] = {}
    for x = 1, cols do heat[y][x] = 0 end
  end
  if not t0 or t1 <= t0 or a1 <= a0 then
    return { heat = heat, t0 = 0, t1 = 0, a0 = 0, a1 = 0, empty = true }
  end
  local tw, aw = (t1 - t0) / cols, (a1 - a0) / rows
  for _, s in ipairs(snaps) do
    local tg = target_of(s, opts.target)
    if tg then
      local st, en = s.start_us or 0, s.time_us
      local x0, x1 = math.floor((st - t0) / tw) + 1, math.min(cols, math.floor((en - t0) / tw - 1e-9) + 1)
      for _, r in ipairs(tg.regions) do
        if r.nr_accesses > 0 then
          local y0 = math.floor((r.start - a0) / aw) + 1
          local y1 = math.min(rows, math.floor((r["end"] - a0) / aw - 1e-9) + 1)
          for y = math.max(1, y0), y1 do
            local lo, hi = a0 + (y - 1) * aw, a0 + y * aw
            local af = (math.min(hi, r["end"]) - math.max(lo, r.start)) / aw
            for x = math.max(1, x0), x1 do
              local tlo, thi = t0 + (x - 1) * tw, t0 + x * tw
              local tf = (math.min(thi, en) - math.max(tlo, st)) / tw
              if tf > 0 and af > 0 then heat[y][x] = heat[y][x] + r.nr_accesses * af * tf end
            end
          end
        end
      end
    end
  end
  return { heat = heat, t0 = t0 / 1e6, t1 = t1 / 1e6, a0 = a0, a1 = a1 }
end

-- The heats as "<time> <address> <heat>" lines, with a guide, as damo's.
function M.heats_text(h)
  local out = { "# <time (s)> <address> <heat>" }
  local rows, cols = #h.heat, #h.heat[1]
  for x = 1, cols do
    for y = 1, rows do
      out[#out + 1] = string.format("%.6f %d %.3f", h.t0 + (h.t1 - h.t0) * (x - 1) / cols,
        math.floor(h.a0 + (h.a1 - h.a0) * (y - 1) / rows), h.heat[y][x])
    end
  end
  out[#out + 1] = string.format("# guide: time %.3f-%.3f s in %d columns, address 0x%x-0x%x in %d rows",
    h.t0, h.t1, cols, h.a0, h.a1, rows)
  return table.concat(out, "\n") .. "\n"
end

-- ANSI 256-colour blocks, highest address on top.
function M.heatmap_ansi(h)
  local ramp = { 17, 18, 54, 90, 126, 162, 198, 202, 208, 214, 220, 226, 229 }
  local max = 0
  for _, row in ipairs(h.heat) do for _, v in ipairs(row) do if v > max then max = v end end end
  local out = {}
  for y = #h.heat, 1, -1 do
    local line = {}
    for _, v in ipairs(h.heat[y]) do
      local i = max > 0 and math.floor(v / max * (#ramp - 1) + 0.5) + 1 or 1
      line[#line + 1] = string.format("\27[48;5;%dm ", ramp[i])
    end
    out[#out + 1] = table.concat(line) .. "\27[0m"
  end
  out[#out + 1] = string.format("# x: time %.3f-%.3f s, y: address 0x%x-0x%x (top is high), max heat %.3g",
    h.t0, h.t1, h.a0, h.a1, max)
  return table.concat(out, "\n") .. "\n"
end

-- heatmap(src, {output="file.png|svg|pdf" or nil for ANSI text, time_res=,
-- addr_res=, width=, height=, title=}) -> true | text | nil, err
function M.heatmap(src, opts)
  opts = opts or {}
  local h = M.heats(src, { time_res = opts.time_res or (opts.output and 300 or 72),
    addr_res = opts.addr_res or (opts.output and 200 or 24), target = opts.target })
  if not opts.output then return M.heatmap_ansi(h) end
  if h.empty then return nil, "nothing to draw: no accesses over time" end
  return require("vmlab.report.image").heatmap(opts.output, h.heat,
    { t0 = h.t0, t1 = h.t1, a0 = h.a0, a1 = h.a1, width = opts.width, height = opts.height,
      title = opts.title })
end

-- ---- the command line ---------------------------------------------------------

local usage = [[
usage: vmlab report <kind> -i <record> [options]
kinds:
  raw          every snapshot's regions
  wss          working set size percentiles   [--sortby size|time] [--percentiles 0 25 50 75 100]
  nr_regions   number of regions percentiles  [--sortby size|time] [--percentiles ...]
  heats        <time> <address> <heat> lines  [--resolution <time> <address>]
  heatmap      an image (-o x.png|x.svg|x.pdf) or ANSI colours on the terminal
               [--resolution <time> <address>] [--size <width> <height>]
common: -i <file> (a record: json_compressed, json or record), --target <id>
]]

function M.main(kind, ...)
  local args = { ... }
  local function fail(msg)
    io.stderr:write("vmlab report: ", msg, "\n")
    return 1
  end
  if kind == nil or kind == "-h" or kind == "--help" then
    io.stdout:write(usage)
    return kind == nil and 1 or 0
  end
  local kinds = { raw = true, wss = true, nr_regions = true, heats = true, heatmap = true }
  if not kinds[kind] then return fail("unknown report '" .. tostring(kind) .. "'\n" .. usage) end
  local opts, input, output = {}, nil, nil
  local i = 1
  local function need(n, what)
    for k = 1, n do
      if args[i + k] == nil then error("option " .. args[i] .. " needs " .. what, 0) end
    end
  end
  local ok, err = pcall(function()
    while i <= #args do
      local a = args[i]
      if a == "-i" or a == "--input" then need(1, "a file"); input = args[i + 1]; i = i + 2
      elseif a == "-o" or a == "--output" then need(1, "a file"); output = args[i + 1]; i = i + 2
      elseif a == "--sortby" then need(1, "size or time"); opts.sortby = args[i + 1]; i = i + 2
      elseif a == "--target" then need(1, "an id"); opts.target = math.tointeger(tonumber(args[i + 1])); i = i + 2
      elseif a == "--percentiles" then
        opts.percentiles = {}
        i = i + 1
        while args[i] and tonumber(args[i]) do opts.percentiles[#opts.percentiles + 1] = tonumber(args[i]); i = i + 1 end
        if #opts.percentiles == 0 then error("option --percentiles needs numbers", 0) end
      elseif a == "--resolution" then
        need(2, "<time> <address> counts")
        opts.time_res, opts.addr_res = math.tointeger(tonumber(args[i + 1])), math.tointeger(tonumber(args[i + 2]))
        if not opts.time_res or not opts.addr_res then error("--resolution takes two whole numbers", 0) end
        i = i + 3
      elseif a == "--size" then
        need(2, "<width> <height>")
        opts.width, opts.height = math.tointeger(tonumber(args[i + 1])), math.tointeger(tonumber(args[i + 2]))
        i = i + 3
      else
        error("unknown option '" .. a .. "'", 0)
      end
    end
  end)
  if not ok then return fail(err) end
  if not input then return fail("-i <record file> is needed") end
  local snaps, rerr = record.read(input)
  if not snaps then return fail(rerr) end
  local text
  ok, err = pcall(function()
    if kind == "raw" then text = M.raw(snaps)
    elseif kind == "wss" then text = select(2, M.wss(snaps, opts))
    elseif kind == "nr_regions" then text = select(2, M.nr_regions(snaps, opts))
    elseif kind == "heats" then text = M.heats_text(M.heats(snaps, opts))
    else
      opts.output = output
      local r, e = M.heatmap(snaps, opts)
      if not r then error(e, 0) end
      text = output and string.format("heatmap written to %s\n", output) or r
    end
  end)
  if not ok then return fail(err) end
  if output and kind ~= "heatmap" then
    local f, e = io.open(output, "w")
    if not f then return fail(e) end
    f:write(text)
    f:close()
  else
    io.stdout:write(text)
  end
  return 0
end

return M
