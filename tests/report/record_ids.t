-- Target ids past 2^63 (damo's kernel pointers, as in its sample record:
-- 18446623438842320000) round-trip through record.write and record.read in
-- every format, and the JSON holds the unsigned number damo writes, never
-- a negative one.
local t = require "vmlab.tap"
local record = require "vmlab.record"
local dir = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests/report") .. "/damo"

local BIG = "18446623438842320000"
local function u(x) return string.format("%u", x) end
local tmp = os.tmpname()
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- the id as record.read gives it (an integer holding the 64 bits)
local snaps = assert(record.read(dir .. "/damon.data.json_compressed"))
local id = snaps[1].targets[1].id
t.is(u(id), BIG, "damo's sample record: the id read whole")
local few = { snaps[1], snaps[2], snaps[3] }
for _, fmt in ipairs { "json", "json_compressed", "record" } do
  local ok, err = record.write(tmp, few, { format = fmt })
  t.ok(ok, fmt .. ": written " .. tostring(err or ""))
  local back, info = record.read(tmp)
  t.ok(back, fmt .. ": read back " .. tostring(back and "" or info))
  if back then
    t.is(#back, 3, fmt .. ": 3 snapshots")
    t.is(u(back[1].targets[1].id), BIG, fmt .. ": id " .. BIG .. " round-trips")
    t.is(back[2].targets[1].regions[1].start, few[2].targets[1].regions[1].start, fmt .. ": regions too")
  end
  if fmt == "json" then
    local text = slurp(tmp)
    t.like(text, '"target_id": ' .. BIG .. ',', "json: the id is written as the unsigned number")
    t.unlike(text, '"target_id": %-', "json: never negative")
    t.unlike(text, "@vmlab", "json: no marker left")
  end
end

-- written from scratch: the bits as a hex integer; ids around INT64_MAX
local function one(idv)
  return { { time_us = 200000, start_us = 100000,
    targets = { { id = idv, regions = { { start = 4096, ["end"] = 8192, nr_accesses = 3, age = 2 } } } } } }
end
for _, c in ipairs {
  { 0xFFFF924881975480, "hex literal (bits of " .. BIG .. ")", BIG },
  { math.maxinteger, "INT64_MAX", "9223372036854775807" },
  { math.mininteger, "2^63", "9223372036854775808" },
  { -1, "2^64-1", "18446744073709551615" },
  { 0, "0", "0" },
} do
  for _, fmt in ipairs { "json", "record" } do
    assert(record.write(tmp, one(c[1]), { format = fmt, intervals = { sample = 0.005, aggr = 0.1, update = 1 } }))
    local back = record.read(tmp)
    t.is(back and u(back[1].targets[1].id), c[3], fmt .. ": id " .. c[2] .. " round-trips")
    if fmt == "json" then t.like(slurp(tmp), '"target_id": ' .. c[3] .. ',', "json: written as " .. c[3]) end
  end
end
t.error_like(function() record.write(tmp, one(-1.5), { format = "json" }) end, "'id' must be a whole number",
  "a fractional id is refused")
t.error_like(function() record.write(tmp, one(2.0 ^ 64), { format = "json" }) end, "'id' must be a whole number",
  "an id of 2^64 is refused")
os.remove(tmp)
t.done_testing()
