-- vmlab.report.extra: damo's footprints report, and replaying a record,
-- as a replay backend oracle (virtual time, exact) or as a workload that
-- touches a segment in real time (damo replay's job).

local vmlab = require "vmlab"
local fmt = require "vmlab.report.fmt"
local records_of = require "vmlab.report.records"
local hmap = require "vmlab.report.heatmap"

local M = {}

-- ---- a small JSON reader (damo's .mem_footprint files) -----------------------------

local function json_decode(s, path)
  local i = 1
  local function fail(what) error(("%s: bad JSON at offset %d: %s"):format(path, i - 1, what), 0) end
  local function ws() i = s:find("[^ \t\r\n]", i) or #s + 1 end
  local value
  local function str()
    local out = {}
    i = i + 1
    while true do
      local c = s:sub(i, i)
      if c == "" then fail("unterminated string") end
      if c == '"' then i = i + 1 break end
      if c == "\\" then
        local e = s:sub(i + 1, i + 1)
        local map = { n = "\n", t = "\t", r = "\r", b = "\b", f = "\f", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
        if map[e] then out[#out + 1] = map[e]; i = i + 2
        elseif e == "u" then out[#out + 1] = utf8.char(tonumber(s:sub(i + 2, i + 5), 16) or fail("bad \\u")); i = i + 6
        else fail("bad escape") end
      else
        out[#out + 1] = c
        i = i + 1
      end
    end
    return table.concat(out)
  end
  function value()
    ws()
    local c = s:sub(i, i)
    if c == "{" then
      local t = {}
      i = i + 1
      ws()
      if s:sub(i, i) == "}" then i = i + 1 return t end
      while true do
        ws()
        if s:sub(i, i) ~= '"' then fail("a key expected") end
        local k = str()
        ws()
        if s:sub(i, i) ~= ":" then fail("':' expected") end
        i = i + 1
        t[k] = value()
        ws()
        local d = s:sub(i, i)
        i = i + 1
        if d == "}" then return t end
        if d ~= "," then fail("',' or '}' expected") end
      end
    elseif c == "[" then
      local t = {}
      i = i + 1
      ws()
      if s:sub(i, i) == "]" then i = i + 1 return t end
      while true do
        t[#t + 1] = value()
        ws()
        local d = s:sub(i, i)
        i = i + 1
        if d == "]" then return t end
        if d ~= "," then fail("',' or ']' expected") end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(i, i + 3) == "null" then i = i + 4 return nil
    elseif s:sub(i, i + 3) == "true" then i = i + 4 return true
    elseif s:sub(i, i + 4) == "false" then i = i + 5 return false
    end
    local n = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
    if not n or n == "" then fail("a value expected") end
    i = i + #n
    return math.tointeger(tonumber(n)) or tonumber(n)
  end
  local v = value()
  ws()
  if i <= #s then fail("trailing data") end
  return v
end
M.json_decode = json_decode

-- ---- footprints ---------------------------------------------------------------------

local function read_regular(path, max)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local size = f:seek("end")
  if not size then f:close() return nil, path .. ": not a regular file" end
  if size > max then f:close() return nil, ("%s: %d bytes, more than %d"):format(path, size, max) end
  f:seek("set")
  local data = f:read("a")
  f:close()
  return data
end

-- footprints(path, {metric="vsz"|"rss"|"sys_used"|"all", range=, sortby=,
--   raw_number=, all_footprint=, nr_cols_bar=, plot=}) -> text | nil, err
function M.footprints(path, opts)
  opts = opts or {}
  vmlab.checkopts(opts, "report.footprints", { "metric", "range", "sortby", "raw_number", "all_footprint",
    "nr_cols_bar", "plot" })
  if type(path) ~= "string" then error("report.footprints: a .mem_footprint file's path expected", 2) end
  local metric = opts.metric or "all"
  if metric == "all" then
    local out = {}
    for _, m in ipairs { "vsz", "rss", "sys_used" } do
      local o = {}
      for k, v in pairs(opts) do o[k] = v end
      o.metric = m
      local t, err = M.footprints(path, o)
      if not t then return nil, err end
      out[#out + 1] = t
    end
    return table.concat(out)
  end
  if metric ~= "vsz" and metric ~= "rss" and metric ~= "sys_used" then
    error("report.footprints: metric is vsz, rss, sys_used or all, not '" .. tostring(metric) .. "'", 2)
  end
  local st = io.open(path .. "/.")
  if st then st:close() return nil, path .. " is a directory, not a footprints file" end
  local data, err = read_regular(path, 1 << 30)
  if not data then return nil, err end
  local ok, snaps = pcall(json_decode, data, path)
  if not ok then return nil, snaps end
  if type(snaps) ~= "table" then return nil, path .. ": not a list of footprint snapshots" end
  local page = 4096      -- damo's figure, whatever the machine's page size
  local dists = {}
  for _, s in ipairs(snaps) do
    local bytes = 0
    for _, fp in ipairs(s.footprints or {}) do
      local f = fp.footprint or {}
      if fp.pid == nil then
        if metric == "sys_used" then bytes = ((f.total or 0) - (f.free or 0)) * 1024 end
      elseif metric == "vsz" then
        bytes = bytes + (f.size or 0) * page
      elseif metric == "rss" then
        bytes = bytes + (f.resident or 0) * page
      end
    end
    dists[#dists + 1] = bytes
  end
  if (opts.sortby or "size") == "size" then table.sort(dists) end
  local r = opts.range or { 0, 101, 25 }
  local percentiles = {}
  for p = r[1], r[2] - 1, r[3] do percentiles[#percentiles + 1] = p end
  local lines = { string.format("# <percentile> <%s>", metric) }
  if #dists == 0 then
    lines[#lines + 1] = "# no snapshot"
  else
    local sum = 0
    for _, v in ipairs(dists) do sum = sum + v end
    lines[#lines + 1] = "# avr:\t" .. fmt.sz(sum / #dists, opts.raw_number)
    local function at(p)
      local i = fmt.trunc(p / 100.0 * #dists)
      if i == #dists then i = i - 1 end
      return dists[i + 1]
    end
    if opts.all_footprint then
      for i, v in ipairs(dists) do lines[#lines + 1] = string.format("%d %s", i - 1, fmt.sz(v, opts.raw_number)) end
    else
      local cols, max = opts.nr_cols_bar or 59, 0
      for _, p in ipairs(percentiles) do if max <= at(p) then max = at(p) end end
      local per = max > 0 and max / cols or 1
      for _, p in ipairs(percentiles) do
        local v = at(p)
        local line = string.format("%3d %15s", p, fmt.sz(v, opts.raw_number))
        if cols > 0 then
          local n = fmt.trunc(v / per)
          line = line .. " |" .. string.rep("*", n) .. string.rep(" ", cols - n) .. "|"
        end
        lines[#lines + 1] = line
      end
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- ---- replay -----------------------------------------------------------------------------

local function pick(recs, tid)
  if #recs == 0 then error("the record has no snapshots", 0) end
  if tid == nil then return recs[1] end
  for _, r in ipairs(recs) do if r.target_id == tid then return r end end
  error("the record has no target " .. fmt.u64(tid), 0)
end

-- The element of v (sorted, disjoint [lo_key, hi_key) spans) holding x.
local function find_span(v, x, lo_key, hi_key)
  local lo, hi = 1, #v
  while lo <= hi do
    local mid = (lo + hi) // 2
    local e = v[mid]
    if x < e[lo_key] then hi = mid - 1
    elseif x >= e[hi_key] then lo = mid + 1
    else return e end
  end
end

local function max_samples(rec, opts)
  if opts.sample_us and opts.aggr_us then return opts.aggr_us // opts.sample_us end
  if rec.intervals and rec.intervals.sample > 0 then return rec.intervals.aggr // rec.intervals.sample end
  return 20                                  -- DAMON's defaults: 100 ms / 5 ms
end

-- replay_oracle(src, {tid=, sample_us=, aggr_us=, addr_offset=0}) ->
--   function(addr, time_us) -> accessed, info
-- Time 0 is the record's first snapshot start.  A snapshot's time is cut
-- in aggr/sample slots, and a region with n samples is accessed in the
-- first n of them (damo replay's rule): a monitor with the record's
-- intervals sees each region's nr_accesses again, exactly.
function M.replay_oracle(src, opts)
  opts = opts or {}
  vmlab.checkopts(opts, "report.replay_oracle", { "tid", "sample_us", "aggr_us", "addr_offset" })
  local rec = pick(records_of.load(src), opts.tid)
  local snaps = rec.snapshots
  for _, s in ipairs(snaps) do table.sort(s.regions, function(a, b) return a.start < b.start end) end
  local slots = max_samples(rec, opts)
  local t0 = snaps[1].start_time
  local off = opts.addr_offset or 0
  local info = { start_ns = t0, end_ns = snaps[#snaps].end_time, target_id = rec.target_id, slots = slots }
  local guide = hmap.guides({ rec })[1]
  info.regions = guide and guide.regions or {}
  return function(addr, time_us)
    local t = t0 + time_us * 1000
    local s = find_span(snaps, t, "start_time", "end_time")
    if not s then return false end
    local r = find_span(s.regions, addr - off, "start", "end")
    if not r or r.samples <= 0 then return false end
    local slot = (t - s.start_time) * slots // (s.end_time - s.start_time)
    return slot < r.samples
  end, info
end

-- replay(src, seg, {tid=, base=, speed=1, op="read"}) -> snapshots replayed
-- Touches seg in real time as the record says: for each snapshot, in each
-- of its aggr/sample slots, the pages of the regions accessed in that slot.
-- Record address base (default: the hottest contiguous range's start) maps
-- to the segment's offset 0; what falls outside the segment is skipped.
function M.replay(src, seg, opts)
  opts = opts or {}
  vmlab.checkopts(opts, "report.replay", { "tid", "base", "speed", "op", "sample_us", "aggr_us" })
  local rec = pick(records_of.load(src), opts.tid)
  local base = opts.base
  if not base then base = hmap.hottest(hmap.guides({ rec })[1]).start end
  local size = seg.size
  local speed = opts.speed or 1
  if type(speed) ~= "number" or speed <= 0 or speed ~= speed then error("report.replay: speed is a number > 0", 2) end
  local slots = max_samples(rec, opts)
  local page = vmlab.pagesize()
  for _, s in ipairs(rec.snapshots) do
    local slice = (s.end_time - s.start_time) / slots / 1e9 / speed
    for k = 0, slots - 1 do
      local t = vmlab.now()
      for _, r in ipairs(s.regions) do
        if k < r.samples then
          local a = math.max(r.start - base, 0)
          local b = math.min(r["end"] - base, size)
          a = a - a % page
          if b > a then seg:touch({ op = opts.op or "read", offset = a, length = b - a }) end
        end
      end
      local left = slice - (vmlab.now() - t)
      if left > 0 then vmlab.snooze(left) end
    end
  end
  return #rec.snapshots
end

return M
