-- Records: damo's JSON (plain and zlib-compressed) and the seed's binary
-- layout, written and read back; corrupt files name the offset.
local t = require "vmlab.tap"
local rec = require "vmlab.record"
local damon = require "vmlab.damon"

local base = 0x100000000
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)

local m = damon.monitor { targets = { { start = base, ["end"] = base + (64 << 20) },
  { start = base + (1 << 30), ["end"] = base + (1 << 30) + (32 << 20) } },
  oracle = { { start = base, ["end"] = base + (8 << 20) } }, seed = 5 }
local snaps = {}
m:on_aggregate(function(s) snaps[#snaps + 1] = s end)
m:step(20 * 6)
m:close()
t.is(#snaps, 6, "six snapshots to record")

local function same(a, b, with_age)
  if #a ~= #b then return false, "count " .. #a .. " vs " .. #b end
  for k = 1, #a do
    if a[k].time_us ~= b[k].time_us then return false, "time of snapshot " .. k end
    for ti, tg in ipairs(a[k].targets) do
      local bt = b[k].targets[ti]
      if not bt or #bt.regions ~= #tg.regions then return false, "regions of snapshot " .. k end
      for i, r in ipairs(tg.regions) do
        local q = bt.regions[i]
        if q.start ~= r.start or q["end"] ~= r["end"] or q.nr_accesses ~= r.nr_accesses or
          (with_age and q.age ~= r.age) then
          return false, string.format("snapshot %d target %d region %d", k, ti, i)
        end
      end
    end
  end
  return true
end

for _, f in ipairs { "json_compressed", "json", "record" } do
  local path = dir .. "/r." .. f
  t.ok(rec.write(path, snaps, { format = f }), f .. ": written")
  local back, info = rec.read(path)
  t.ok(back, f .. ": read back")
  local ok, why = same(snaps, back, f ~= "record")
  t.ok(ok, f .. ": the same snapshots" .. (why and (" (" .. why .. ")") or ""))
  t.is(#back[1].targets, 2, f .. ": both targets")
  t.is(back[1].start_us, 0, f .. ": the first snapshot's start time")
  if f ~= "record" then t.is(info.intervals.aggr, 0.1, f .. ": intervals kept") end
end

local f = io.open(dir .. "/r.record", "rb")
local head = f:read(20)
f:close()
t.is(head:sub(1, 16), "damon_recfmt_ver", "binary: the version header")
t.is(string.unpack("i4", head, 17), 2, "binary: format version 2")
f = io.open(dir .. "/r.json_compressed", "rb")
t.is(f:read(1):byte(), 0x78, "json_compressed is a zlib stream")
f:close()
f = io.open(dir .. "/r.json")
local text = f:read("a")
f:close()
t.like(text, '"nr_accesses": {%s*"samples": %d+', "json: damo's nr_accesses.samples")
t.like(text, '"age": {%s*"usec": "%d+",%s*"aggr_intervals": "%d+"', "json: damo's age")
t.like(text, '"intervals": {%s*"sample_us": "5000"', "json: damo's intervals")

-- one snapshot in the binary format: the fake second one carries its length
t.ok(rec.write(dir .. "/one.record", { snaps[3] }, { format = "record" }), "a single snapshot")
local one = rec.read(dir .. "/one.record")
t.is(#one, 1, "reads back as one (the fake snapshot is dropped)")
t.is(one[1].start_us, snaps[3].time_us - 100000, "with its start time")

-- corrupt and truncated files
local function cut(src, n, dst)
  local i = io.open(src, "rb"); local data = i:read(n); i:close()
  local o = io.open(dst, "wb"); o:write(data); o:close()
  return dst
end
local r, err = rec.read(cut(dir .. "/r.record", 100, dir .. "/cut.record"))
t.is(r, nil, "a truncated binary record fails")
t.like(err, "offset %d+", "naming the offset (" .. tostring(err) .. ")")
r, err = rec.read(cut(dir .. "/r.json", 500, dir .. "/cut.json"))
t.like(err, "bad JSON at offset 500", "a truncated JSON record names the offset")
r, err = rec.read(cut(dir .. "/r.json_compressed", 200, dir .. "/cut.jz"))
t.like(err, "truncated compressed record at offset", "a truncated compressed record names the offset")
local o = io.open(dir .. "/garbage", "wb"); o:write("damon_recfmt_ver\7\0\0\0"); o:close()
r, err = rec.read(dir .. "/garbage")
t.like(err, "unknown record format version 7 at offset 16", "an unknown version")
o = io.open(dir .. "/empty", "wb"); o:close()
t.like(select(2, rec.read(dir .. "/empty")), "empty record file", "an empty file")
t.like(select(2, rec.read(dir .. "/nonexistent")), "No such file", "a missing file")
o = io.open(dir .. "/notrec.json", "w"); o:write('{"a": 1}'); o:close()
t.like(select(2, rec.read(dir .. "/notrec.json")), "not a list of records", "JSON that is not a record")
t.error_like(function() rec.write(dir .. "/x", snaps, { format = "yaml" }) end, "bad option 'format'", "unknown format")
t.error_like(function() rec.write(dir .. "/x", { { time_us = 1 } }) end, "needs targets", "a snapshot without targets")

-- misspelled option keys are named
t.error_like(function() rec.open(dir .. "/x", { fromat = "json" }) end,
  "record.open: unknown option 'fromat' %(did you mean 'format'%?%)", "record.open names a misspelled key")
t.error_like(function() rec.write(dir .. "/x", {}, { intervals = { smaple = 1 } }) end,
  "unknown option 'smaple'", "record.write checks its intervals table")

-- a monitor with record= writes its own file
local m2 = damon.monitor { targets = { { start = base, ["end"] = base + (64 << 20) } },
  oracle = { { start = base, ["end"] = base + (4 << 20) } }, record = dir .. "/mon.json", format = "json" }
m2:step(20 * 4)
t.ok(m2:stop(), "stop writes the record")
m2:close()
local got = rec.read(dir .. "/mon.json")
t.is(got and #got, 4, "with every aggregation")
os.execute("rm -rf " .. dir)
t.done_testing()
