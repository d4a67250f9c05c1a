-- vmlab.report.filter: damo's record filters for `report access` (its
-- access_filter_options), applied in damo's order before any view:
--   sz_region={min, max} bytes, access_rate={min, max} percent,
--   age={min, max} microseconds (each bound inclusive, per region; access
--   rate and age only when the record has intervals), address={{start,
--   end}, ...} (regions clipped to the ranges), sz_snapshot={{min, max}, ...}
--   (a snapshot's total bytes), snapshot_time={{start, end}, ...} (ns,
--   absolute; a snapshot kept when inside one), snapshot_idx={{first, last},
--   ...} (0-based, inclusive), temperature={{min, max}, ...} (with
--   temperature_weights, {0, 100, 100} by default).
-- And damo's text forms of those numbers ("min", "max", "4K", "1.5 s",
-- "50%") for the command line.

local fmt = require "vmlab.report.fmt"

local M = {}

local ULONG_MAX = 18446744073709551615.0

M.keys = { "sz_region", "access_rate", "age", "address", "sz_snapshot", "snapshot_time", "snapshot_idx",
  "temperature" }

local function size(r) return r["end"] - r.start end

-- damo's percent of an access count: int(samples * 100.0 / (aggr / sample))
local function pct(r, iv) return fmt.trunc(r.samples * 100.0 / (iv.aggr / iv.sample)) end

local function temperature(r, iv, w)
  local p = pct(r, iv)
  local score = size(r) * w[1] + p * w[2] + (r.age or 0) * iv.aggr * w[3]
  if p > 0 then return score end
  return -score
end

local function in_pairs(v, ranges)
  for _, rg in ipairs(ranges) do if rg[1] <= v and v <= rg[2] then return true end end
  return false
end

local function total(s)
  local t = 0
  for _, r in ipairs(s.regions) do t = t + size(r) end
  return t
end

local function clip(r, s, e)
  return { start = math.max(s, r.start), ["end"] = math.min(e, r["end"]), samples = r.samples, age = r.age }
end

-- records (vmlab.report.records) filtered in place; opts checked by the caller
function M.apply(recs, o)
  for _, rec in ipairs(recs) do
    local iv = rec.intervals
    -- damo keeps a snapshot's total bytes through the access pattern
    -- filter and recounts them after the address and temperature ones
    for _, s in ipairs(rec.snapshots) do s.total_bytes = s.total_bytes or total(s) end
    if o.sz_region or o.access_rate or o.age then
      local sz = o.sz_region or { 0, ULONG_MAX }
      local ar = o.access_rate or { 0, ULONG_MAX }
      local age = o.age or { 0, ULONG_MAX }
      for _, s in ipairs(rec.snapshots) do
        local kept = {}
        for _, r in ipairs(s.regions) do
          local ok = size(r) >= sz[1] and size(r) <= sz[2]
          if ok and iv then
            local p, us = pct(r, iv), (r.age or 0) * iv.aggr
            ok = p >= ar[1] and p <= ar[2] and us >= age[1] and us <= age[2]
          end
          if ok then kept[#kept + 1] = r end
        end
        s.regions = kept
      end
    end
    if o.address then
      for _, s in ipairs(rec.snapshots) do
        local kept = {}
        for _, r in ipairs(s.regions) do
          for _, rg in ipairs(o.address) do
            if not (r["end"] <= rg[1] or rg[2] <= r.start) then kept[#kept + 1] = clip(r, rg[1], rg[2]) end
          end
        end
        s.regions = kept
        s.total_bytes = total(s)
      end
    end
    local function keep_snapshots(pred)
      local kept = {}
      for i, s in ipairs(rec.snapshots) do if pred(s, i - 1) then kept[#kept + 1] = s end end
      rec.snapshots = kept
    end
    if o.sz_snapshot then keep_snapshots(function(s) return in_pairs(s.total_bytes, o.sz_snapshot) end) end
    if o.snapshot_time then
      keep_snapshots(function(s)
        for _, rg in ipairs(o.snapshot_time) do
          if s.start_time >= rg[1] and s.end_time <= rg[2] then return true end
        end
        return false
      end)
    end
    if o.snapshot_idx then keep_snapshots(function(_, i) return in_pairs(i, o.snapshot_idx) end) end
    if o.temperature then
      if not iv then return nil, "temperature filters need the record's intervals" end
      local w = o.temperature_weights or { 0, 100, 100 }
      for _, s in ipairs(rec.snapshots) do
        local kept = {}
        for _, r in ipairs(s.regions) do
          if in_pairs(temperature(r, iv, w), o.temperature) then kept[#kept + 1] = r end
        end
        s.regions = kept
        s.total_bytes = total(s)
      end
    end
  end
  return recs
end

-- ---- damo's text numbers ------------------------------------------------------------

local function common(txt, min)
  if txt == "min" then return min or 0 end
  if txt == "max" then return ULONG_MAX end
  local n = tonumber((txt:gsub(",", "")))
  if n then return math.tointeger(n) or n end
end

local byte_units = { B = 1, K = 1 << 10, KB = 1 << 10, KiB = 1 << 10, M = 1 << 20, MB = 1 << 20, MiB = 1 << 20,
  G = 1 << 30, GB = 1 << 30, GiB = 1 << 30, T = 1 << 40, TB = 1 << 40, TiB = 1 << 40, P = 1 << 50, PB = 1 << 50,
  PiB = 1 << 50, E = 1 << 60, EB = 1 << 60, EiB = 1 << 60 }

function M.bytes(txt)
  local n = common(txt)
  if n then return n end
  local v, u = txt:match("^%s*([%d.,]+)%s*(%a+)%s*$")
  local num = v and tonumber((v:gsub(",", "")))
  if not num or not byte_units[u] then return nil end
  local b = num * byte_units[u]
  if b >= ULONG_MAX then return ULONG_MAX end
  return math.tointeger(math.floor(b)) or math.floor(b)
end

local ns_units = { ns = 1, us = 1000, ms = 1000000, s = 1000000000, m = 60000000000, h = 3600000000000,
  d = 86400000000000 }

-- "1 s", "1s", "1 m 30 s" -> ns
function M.ns(txt)
  local n = common(txt)
  if n then return n end
  local sum, any = 0, false
  for v, u in txt:gmatch("([%d.,]+)%s*(%a+)") do
    local num = tonumber((v:gsub(",", "")))
    if not num or not ns_units[u] then return nil end
    sum = sum + num * ns_units[u]
    any = true
  end
  if not any or txt:gsub("[%d.,]+%s*%a+", ""):match("%S") then return nil end
  return math.tointeger(sum) or sum
end

function M.us(txt)
  local n = common(txt)
  if n then return n end
  local ns = M.ns(txt)
  return ns and ns / 1000
end

function M.nr(txt) return common(txt) end

function M.percent(txt)
  local n = common(txt)
  if n then return n end
  local v = txt:match("^%s*([%d.,]+)%s*%%%s*$")
  return v and tonumber((v:gsub(",", "")))
end

return M
