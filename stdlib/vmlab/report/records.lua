-- vmlab.report.records: monitoring results in damo's shape, one record per
-- target, each with its snapshots in nanoseconds:
--   {target_id=, intervals={sample=us, aggr=us, update=us} | nil,
--    snapshots={{start_time=ns, end_time=ns,
--                 regions={{start=, ["end"]=, samples=, age=|nil}}}}}
-- from a record file (any format vmlab.record reads) or from the snapshots
-- monitors and vmlab.record.read give.

local record = require "vmlab.record"
local progress = require "vmlab.progress"

local M = {}

-- A progress line over every snapshot of records (times passes): a long
-- report on a terminal shows how far it is (vmlab.progress; nothing when
-- stderr is not a terminal or the work is short).
function M.progress(what, records, passes)
  local n = 0
  for _, rec in ipairs(records) do n = n + #rec.snapshots end
  return progress.start(what, n * (passes or 1))
end

local AGE_UNKNOWN = 4294967295

local function copy_regions(regions)
  local out = {}
  for i, r in ipairs(regions) do
    local age = r.age
    if age == AGE_UNKNOWN then age = nil end
    out[i] = { start = r.start, ["end"] = r["end"], samples = r.nr_accesses or r.samples or 0, age = age }
  end
  return out
end

-- snapshots (monitor-shaped) and intervals -> records
function M.from_snapshots(snaps, intervals)
  local records, by_id = {}, {}
  local p <close> = progress.start("load snapshots", #snaps)
  for si, s in ipairs(snaps) do
    p:update(si)
    if type(s) ~= "table" or type(s.targets) ~= "table" then
      error(("snapshot %d: a table with targets={{id=, regions=}} expected"):format(si), 0)
    end
    for ti, tg in ipairs(s.targets) do
      local id = tg.id or ti
      local rec = by_id[id]
      if not rec then
        rec = { target_id = id, intervals = intervals, snapshots = {} }
        by_id[id] = rec
        records[#records + 1] = rec
      end
      local end_ns = tg.end_ns or s.end_ns or (s.time_us and s.time_us * 1000) or
        (s.time and math.floor(s.time * 1e9 + 0.5))
      if not end_ns then error(("snapshot %d has no time"):format(si), 0) end
      local start_ns = tg.start_ns or s.start_ns or (s.start_us and s.start_us * 1000)
      local prev = rec.snapshots[#rec.snapshots]
      if not start_ns then
        -- damo's rule: a snapshot starts where the previous one ended
        start_ns = prev and prev.end_time or (intervals and end_ns - intervals.aggr * 1000) or end_ns
      end
      if type(tg.regions) ~= "table" then error(("snapshot %d, target %d: no regions"):format(si, ti), 0) end
      rec.snapshots[#rec.snapshots + 1] = { start_time = start_ns, end_time = end_ns,
        regions = copy_regions(tg.regions) }
    end
  end
  return records
end

-- path | snapshots | records -> records (fresh copies: reports may change them)
function M.load(src, intervals)
  if type(src) == "string" then
    local snaps, info = record.read(src)
    if not snaps then error(info, 0) end
    local iv
    if info.aggr_us and info.aggr_us > 0 then
      iv = { sample = info.sample_us, aggr = info.aggr_us, update = info.update_us }
    end
    return M.from_snapshots(snaps, iv)
  end
  if type(src) ~= "table" then
    error("a record file's path or an array of snapshots expected, got " .. type(src), 0)
  end
  if src[1] and src[1].snapshots then           -- already records: copy
    local out = {}
    for i, rec in ipairs(src) do
      local snaps = {}
      for k, s in ipairs(rec.snapshots) do
        snaps[k] = { start_time = s.start_time, end_time = s.end_time, regions = copy_regions(s.regions) }
      end
      out[i] = { target_id = rec.target_id, intervals = rec.intervals, snapshots = snaps }
    end
    return out
  end
  return M.from_snapshots(src, intervals)
end

-- ---- damo's adjust_records: skip, then aggregate to a longer interval ------

local function intersect(a, b) return not (a["end"] <= b.start or b["end"] <= a.start) end

-- damo's add_region: a region overlapping one already there adds its
-- accesses to it (the most of the overlapping ones, per snapshot); the parts
-- outside are added on their own.
local function add_region(regions, region, to_add)
  for _, r in ipairs(regions) do
    if intersect(r, region) then
      to_add[r] = math.max(to_add[r] or 0, region.samples)
      local parts = {}
      if region.start < r.start then
        parts[#parts + 1] = { start = region.start, ["end"] = r.start, samples = region.samples, age = region.age }
      end
      if r["end"] < region["end"] then
        parts[#parts + 1] = { start = r["end"], ["end"] = region["end"], samples = region.samples, age = region.age }
      end
      for _, p in ipairs(parts) do add_region(regions, p, to_add) end
      return
    end
  end
  regions[#regions + 1] = region
end

local function aggregate(snaps)
  local regions = {}
  for _, s in ipairs(snaps) do
    local to_add, order = {}, {}
    local mt = { __newindex = function(t, k, v) order[#order + 1] = k; rawset(t, k, v) end }
    setmetatable(to_add, mt)
    for _, r in ipairs(s.regions) do
      add_region(regions, { start = r.start, ["end"] = r["end"], samples = r.samples, age = r.age }, to_add)
    end
    for _, r in ipairs(order) do r.samples = r.samples + to_add[r] end
  end
  return { start_time = snaps[1].start_time, end_time = snaps[#snaps].end_time, regions = regions }
end

function M.adjust(records, aggr_us, skip)
  local p <close> = M.progress("aggregate snapshots", records)
  local done = 0
  for _, rec in ipairs(records) do
    if rec.intervals then rec.intervals = { sample = rec.intervals.sample, aggr = aggr_us,
      update = rec.intervals.update } end
    local out, group = {}, {}
    for k = skip + 1, #rec.snapshots do
      local s = rec.snapshots[k]
      done = done + 1
      p:update(done)
      group[#group + 1] = s
      if group[#group].end_time - group[1].start_time >= aggr_us * 1000 then
        out[#out + 1] = aggregate(group)
        group = {}
      end
    end
    rec.snapshots = out
  end
  return records
end

return M
