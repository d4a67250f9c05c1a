-- `report access` views (damo 3.3's default view, every --style, templates,
-- region boxes, histograms, percentiles) compared byte for byte with damo
-- 3.3.0's output on records vmlab wrote (tests/report/damo/access: a replay
-- monitor, a prot monitor over two segments, two hand-made targets with an
-- address gap); then known answers on a tiny record and the refusals.
local t = require "vmlab.tap"
local report = require "vmlab.report"
local record = require "vmlab.record"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests/report"
local dir = here .. "/damo/access"

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end
local function run(args) return sh(vmlab_bin .. " report access " .. args) end

-- the first differing line, to say where without printing 200 KB
local function first_diff(got, want)
  local gl, wl = {}, {}
  for l in (got .. "\n"):gmatch("([^\n]*)\n") do gl[#gl + 1] = l end
  for l in (want .. "\n"):gmatch("([^\n]*)\n") do wl[#wl + 1] = l end
  for i = 1, math.max(#gl, #wl) do
    if gl[i] ~= wl[i] then
      return ("line %d:\n  got:  %s\n  want: %s"):format(i, tostring(gl[i]):gsub("\27", "^["):sub(1, 300),
        tostring(wl[i]):gsub("\27", "^["):sub(1, 300))
    end
  end
  return "same lines (a trailing difference)"
end

-- ---- damo's outputs --------------------------------------------------------------
local cases = 0
for line in io.lines(dir .. "/cases") do
  if not line:match("^#") and line:match("%S") then
    local name, rec, args = line:match("^%s*(%S+)%s*|%s*(%S+)%s*|%s*(.-)%s*$")
    local want = sh("gzip -dc " .. dir .. "/" .. name .. ".gz")
    local got, code = run("-i " .. dir .. "/" .. rec .. " " .. args)
    cases = cases + 1
    if got == want and code == 0 then
      t.pass("damo 3.3: " .. name .. " (" .. (args ~= "" and args:sub(1, 60) or "the default view") .. ")")
    else
      t.fail("damo 3.3: " .. name, "exit " .. tostring(code) .. "; " .. first_diff(got, want))
    end
  end
end
t.cmp_ok(cases, ">=", 40, "every case of the cases file ran")

-- the Lua function prints what the command prints
local rec2 = dir .. "/vmlab-two.json_compressed"
t.is(report.access(rec2, { style = "hot", raw_number = true }), sh("gzip -dc " .. dir .. "/two-hot.gz"),
  "report.access in Lua: the same as the command")
t.is(report.access(rec2, { format = { { "set", "region", "<temperature> <access rate>" } },
  min_chars_for = { { "<temperature>", 15 }, { "<size>", 2 } }, sort_regions_by = { "temperature", "access_rate" },
  sort_regions_dsc = { "all" } }), sh("gzip -dc " .. dir .. "/two-min-chars.gz"), "templates and sorting from Lua")

-- ---- known answers on a tiny record ------------------------------------------------
-- one target, one snapshot: 4 regions with a gap; sample 5 ms, aggr 100 ms
-- (20 samples an aggregation): accesses 20, 10, 0, 0; ages 0, 1, 5, 10.
-- The expectations were checked against damo 3.3 on the same record.
local MiB = 1 << 20
local tiny = os.tmpname()
assert(record.write(tiny, { { time_us = 100000, start_us = 0, targets = { { id = 7, regions = {
  { start = 0, ["end"] = MiB, nr_accesses = 20, age = 0 },
  { start = MiB, ["end"] = 3 * MiB, nr_accesses = 10, age = 1 },
  { start = 8 * MiB, ["end"] = 9 * MiB, nr_accesses = 0, age = 5 },
  { start = 9 * MiB, ["end"] = 13 * MiB, nr_accesses = 0, age = 10 } } } } } },
  { format = "json", intervals = { sample = 0.005, aggr = 0.1, update = 1 } }))
local fmt1 = { { "set", "snapshot_head", "" }, { "set", "snapshot_tail", "" }, { "set", "record_tail", "" },
  { "set", "region", "<index> <size> <access rate> <access hz> <age> <temperature>" } }
t.is(report.access(tiny, { format = fmt1, raw_number = true }),
  "0   1048576     100.000000 200.000000 0             10000\n" ..
  "1   2097152     50.000000 100.000000 100000        10005000\n" ..
  "2   1048576     0.000000 0.000000 500000        -50000000\n" ..
  "3   4194304     0.000000 0.000000 1000000       -100000000\n",
  "per region: bytes, percent, hz, age (us) and temperature (100 x percent + 100 x age us, negative when idle)")
t.is(report.access(tiny, { format = fmt1, sort_regions_by = { "temperature" } }),
  "0   4.000 MiB   0 %   0 hz   1 s           -100,000,000\n" ..
  "1   1024.000 KiB 0 %   0 hz   500 ms        -50,000,000\n" ..
  "2   1024.000 KiB 100 % 200 hz 0 ns          10,000\n" ..
  "3   2.000 MiB   50 %  100 hz 100 ms        10,005,000\n",
  "sorted by temperature, coldest first (the index is the sorted position), damo's minimum widths")
t.is(report.access(tiny, { style = "recency-percentiles", format = { { "set", "snapshot_tail", "" },
  { "set", "record_tail", "" } }, percentiles_range = { 0, 101, 25 } }),
  "# total recency percentiles\n<percentile> <idle time>\n" ..
  "  0     0 ns  |                    |\n" ..
  " 25     0 ns  |                    |\n" ..
  " 50   600 ms  |**********          |\n" ..
  " 75  1.100 s  |********************|\n" ..
  "100  1.100 s  |********************|\n",
  "idle time percentiles by bytes: 3 of 8 MiB accessed, then 1 MiB idle 600 ms, 4 MiB idle 1.1 s")
local hist = report.access(tiny, { style = "recency-sz-hist", raw_number = true,
  format = { { "set", "snapshot_tail", "" }, { "set", "record_tail", "" } } })
t.like(hist, "^<idle time %(us%)> <total size>\n%[0, 110001%)%s+3145728 ", "recency histogram: 3 MiB idle 0 us")
t.like(hist, "\n%[550005, 660006%)%s+1048576 ", "... 1 MiB at 600 ms")
t.like(hist, "\n%[990009, 1100010%)%s+4194304 |%*+|\n$", "... 4 MiB at 1.1 s, the longest bar")
t.is(report.access(tiny, { total_sz_only = true, format = { { "set", "record_tail", "" } } }), "8.000 MiB\n",
  "total_sz_only: the bytes of the regions (the gap not counted)")
local heat = report.access(tiny, { snapshot_heatmap_width = 13, format = { { "set", "snapshot_head", "<heatmap>" },
  { "set", "region", "" }, { "set", "snapshot_tail", "" }, { "set", "record_tail", "" } } })
local plain = heat:gsub("\27%[[%d;]*m", "")
t.is(plain, "88998[...]..20000007\n# min/max temperatures: -100,000,000, 10,005,000, column size: 630.154 KiB\n",
  "snapshot heatmap: 13 columns of 8 MiB / 13, the gap as [...] and two dots (as damo 3.3 draws it)")
local boxes = report.access(tiny, { format = { { "set", "snapshot_head", "" }, { "set", "region", "<box>" },
  { "set", "snapshot_tail", "" }, { "set", "record_tail", "" } }, region_box_values = { "size", "none", "none" },
  region_box_scales = { "linear", "linear", "linear" }, region_box_min_max_length = { 1, 4 }, region_box_min_max_height = { 1, 1 } })
t.is(boxes, "|-|\n|--|\n|-|\n|----|\n",
  "region boxes without colour or height (damo 3.3 fails on 'none'): lengths by size, 1 to 4")

-- damo's record filters
local idx = { { "set", "snapshot_head", "" }, { "set", "snapshot_tail", "<total bytes>" }, { "set", "record_tail", "" },
  { "set", "region", "<start address> <end address>" } }
t.is(report.access(tiny, { format = idx, raw_number = true, access_rate = { 0, 0 } }),
  "8388608      9437184    \n9437184      13631488   \n8388608\n",
  "access_rate {0, 0}: the idle regions (the total stays the snapshot's 8 MiB, as damo's)")
t.is(report.access(tiny, { format = idx, raw_number = true, address = { { 512 * 1024, 8 * MiB + 4096 } } }),
  "524288       1048576    \n1048576      3145728    \n8388608      8392704    \n2625536\n",
  "address: regions clipped to the range, the total recounted")
t.is(report.access(tiny, { format = idx, raw_number = true, age = { 100000, 500000 }, sz_region = { 0, MiB } }),
  "8388608      9437184    \n8388608\n", "age (us) and sz_region (bytes), both inclusive")
t.is(report.access(tiny, { format = idx, raw_number = true, temperature = { { 0, 10000 } } }),
  "0            1048576    \n1048576\n", "temperature ranges, inclusive")
t.is(report.access(tiny, { format = idx, snapshot_idx = { { 1, 5 } } }), "\n", "snapshot_idx past the end: no snapshot")

-- a monitor's snapshots, with the intervals given as record.write takes them
local snaps = assert(record.read(tiny))
for _, sn in ipairs(snaps) do sn.time_us, sn.start_us = 100000, 0 end
t.like(select(2, report.access(snaps)), "lack the intervals", "snapshots without intervals: refused")
t.is(report.access(snaps, { intervals = { sample = 0.005, aggr = 0.1 }, format = fmt1, raw_number = true }),
  report.access(tiny, { format = fmt1, raw_number = true }), "... and with intervals = {sample=, aggr=}: as the record")

-- ---- refusals ------------------------------------------------------------------------
local out, code = run("--style warm -i " .. rec2)
t.like(out, "^vmlab report access: option %-%-style: 'warm' is not one of detailed, simple%-boxes, .*hot\n$",
  "an unknown style is named, with the implemented ones")
t.is(code, 1, "... exit 1")
t.error_like(function() report.access(rec2, { style = "warm" }) end,
  "style 'warm' is not implemented; implemented styles: detailed, simple%-boxes, temperature%-sz%-hist.*hot",
  "report.access: the same, as an error")
out, code = run("-i " .. here .. "/damo/damon.data")
t.like(out, "some records lack the intervals information", "damo's sample record has no intervals: refused as damo does")
t.is(code, 1, "... exit 1")
t.like(run("--raw_form -i " .. here .. "/damo/damon.data"), "^base_time_absolute:", "... but its raw form prints")
t.like(run("--format set regoin x -i " .. rec2), "format area 'regoin' is not one of record_head", "a wrong --format area")
t.like(run("--format set region -i " .. rec2), "%-%-format takes <set|append> <area> <template>", "a short --format")
t.like(run("--sort_regions_by heat -i " .. rec2), "'heat' is not one of address, access_rate", "a wrong sort key")
t.error_like(function() report.access(rec2, { stlye = "hot" }) end, "unknown option 'stlye' %(did you mean 'style'%?%)",
  "vmlab.checkopts on report.access")
t.error_like(function() report.access(rec2, { temperature_weights = { 1, 2 } }) end,
  "temperature_weights is a list of 3 whole numbers", "bad weights")
t.error_like(function() report.access(rec2, { region_box_values = { "none", "size", "age" } }) end,
  "needs a value for its length", "a box needs a length")
t.error_like(function() report.access(rec2, { address = { { 0, 100 }, { 50, 200 } } }) end, "address ranges overlap",
  "overlapping address ranges")
t.error_like(function() report.access(rec2, { age = { 5, 1 } }) end, "age is {min, max}", "min > max")
t.like(run("--age 0 1x -i " .. rec2), "%-%-age: '1x' is not a time", "a time damo would not read")
t.like(run("--sz_region 1Q max -i " .. rec2), "%-%-sz_region: '1Q' is not a size", "a size damo would not read")
os.remove(tiny)
t.done_testing()
