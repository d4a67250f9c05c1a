-- damo's own sample records (tests/report/damo/, see its README) read in
-- all three formats and reported byte for byte as damo 3.3 reports them:
-- its expects for access --raw_form, wss -r 1 101 1 --raw_number (with
-- and without --work_time), nr_regions -r 1 101 1, heatmap --guide and
-- --output raw, and more of its outputs recorded from a run.
local t = require "vmlab.tap"
local report = require "vmlab.report"
local record = require "vmlab.record"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"
local dir = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests/report") .. "/damo"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local function expect(name) return slurp(dir .. "/expects/" .. name) end
local sha = {}
for line in expect("sha256"):gmatch("[^\n]+") do
  local k, v = line:match("^(%S+) (%x+)$")
  sha[k] = v
end

local function run(args)
  local p = io.popen(vmlab_bin .. " report " .. args .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end
local function sha256(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  local p = io.popen("sha256sum < " .. path)
  local sum = p:read("a"):match("^(%x+)")
  p:close()
  os.remove(path)
  return sum
end

local files = { json_compressed = dir .. "/damon.data.json_compressed", zlib = dir .. "/damon.data",
  record = dir .. "/damon.data.record" }

-- reading: the kernel-pointer target id, times as damo computes them
for name, path in pairs(files) do
  local snaps, info = record.read(path)
  t.ok(snaps, name .. ": read") -- (message on failure below)
  if not snaps then t.diag(info) else
    t.is(#snaps, 543, name .. ": 543 snapshots")
    t.is(string.format("%u", snaps[1].targets[1].id), "18446623438842320000", name .. ": the target id, unsigned 64-bit")
    t.is(snaps[1].targets[1].start_ns, 539809434100, name .. ": the first snapshot starts at 539809434100 ns")
    t.is(snaps[2].targets[1].start_ns, snaps[1].targets[1].end_ns, name .. ": a snapshot starts where the previous ended")
  end
end

-- access --raw_form, from each format: damo's expects/report-raw
for name, path in pairs(files) do
  local out, code = run("access --raw_form -i " .. path)
  t.is(code, 0, name .. ": access --raw_form exits 0")
  t.is(sha256(out), sha["report-raw"], name .. ": access --raw_form is damo's report-raw, byte for byte")
end
t.is(sha256(report.access(files.zlib, { raw_form = true })), sha["report-raw"], "report.access in Lua: the same")
t.is(sha256(run("raw -i " .. files.record)), sha["report-raw"], "damo 2's `report raw`: an alias")

-- wss and nr_regions
t.is(run("wss -r 1 101 1 --raw_number -i " .. files.zlib), expect("report-wss"), "wss -r 1 101 1 --raw_number")
t.is(run("wss -r 1 101 1 --work_time 1000000 --raw_number -i " .. files.json_compressed),
  expect("report-wss_worktime_1s"), "wss --work_time 1000000 (damo's aggregation of snapshots)")
t.is(run("wss --range 1 101 1 --raw_number -i " .. files.record), expect("report-wss"), "wss of the binary record")
t.is(run("wss -i " .. files.zlib), expect("report-wss_default"), "wss defaults: 20 snapshots skipped, sizes, bars")
t.is(run("nr_regions -r 1 101 1 -i " .. files.zlib), expect("report-nr_regions"), "nr_regions -r 1 101 1")
local _, text = report.wss(files.zlib, { range = { 1, 101, 1 }, raw_number = true })
t.is(text, expect("report-wss"), "report.wss in Lua: the same")
local dists = report.wss(files.zlib, { exclude_samples = 0 })
t.is(#dists[1].values, 543, "exclude_samples = 0 keeps every snapshot")
t.is(#report.wss(files.zlib)[1].values, 523, "20 skipped by default")

-- heatmap
t.is(run("heatmap --guide -i " .. files.zlib), expect("report-heats_guide"), "heatmap --guide")
t.is(run("record_info -i " .. files.zlib), expect("report-record_info"), "record_info")
local raw = run("heatmap --output raw -i " .. files.zlib)
t.is(sha256(raw), sha["report-heats"], "heatmap --output raw: damo's 500x500 triples")
t.is(sha256(run("heats -i " .. files.json_compressed)), sha["report-heats"], "damo 2's `report heats`: an alias")
t.is(sha256(run("heatmap -i " .. files.zlib)), sha["report-heatmap"], "heatmap on stdout: damo's digits and colours")
local small = run("heatmap --resol 8 30 -i " .. files.zlib)
t.is(small, expect("report-heatmap_8x30"), "heatmap --resol 8 30")
t.is(run("heatmap --time_range 0 20000000000 guided --address_range 0 100000000 guided --output raw --resol 5 6 -i " ..
  files.zlib), expect("report-heatmap_ranges"), "heatmap ranges based on the guide")
t.is(run("heatmap --draw_range all --resol 4 10 --stdout_colorset flame -i " .. files.zlib),
  expect("report-heatmap_all_flame"), "heatmap of every contiguous range, flame colours")
local plain = report.heatmap(files.zlib, { resol = { 8, 30 }, stdout_colorset = "none" })
t.is(plain, (small:gsub("\27%[[%d;]*m", "")), "without colour: the same digits and legend")
t.like(plain, "\n# access_frequency: 0123456789 %(0%.614%-14%.585 samples%)\n", "the legend names the scale")
local rows = 0
for line in plain:gmatch("[^\n]+") do if line:match("^[0-9 ]+$") then rows = rows + 1; t.is(#line, 30, "a row: 30 addresses") break end end
t.like(plain, "# resolution: 30x8", "time down, addresses across, as damo")

-- footprints (damo's .mem_footprint files)
local fp = dir .. "/sample.mem_footprint"
t.is(run("footprints -i " .. fp), expect("report-footprints"), "footprints: vsz, rss and sys_used as damo's")
t.is(run("footprints rss --raw_number -r 0 101 10 -i " .. fp), expect("report-footprints_rss"), "footprints rss")
t.is(report.footprints(fp), expect("report-footprints"), "report.footprints in Lua")

-- errors: one line, what was wrong, no stdlib position
local out, code = run("wss --bogus -i " .. files.zlib)
t.like(out, "^vmlab report wss: unknown option '%-%-bogus'; valid options: .*%-r/%-%-range", "an unknown option lists the valid ones")
t.is(code, 1, "exit 1")
out = run("heatmap --resol 10 -i " .. files.zlib)
t.like(out, "option %-%-resol needs <time> <address>", "a missing value")
out = run("heatmap --resol 100000 100000 -i " .. files.zlib)
t.unlike(out, "%.lua:%d+:", "no stdlib file:line in errors")
t.like(out, "resol", "...and the message says what")
t.error_like(function() report.wss(files.zlib, { rnage = { 1, 2, 1 } }) end, "unknown option 'rnage'",
  "vmlab.checkopts on the Lua functions")
t.done_testing()
