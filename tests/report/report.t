-- Reports on hand-made records with known answers, the heatmap image and
-- the `vmlab report` command line.
local t = require "vmlab.tap"
local report = require "vmlab.report"
local record = require "vmlab.record"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"

local MiB = 1 << 20
local function snap(k, regions)
  local rs = {}
  for i, r in ipairs(regions) do
    rs[i] = { start = r[1], ["end"] = r[2], nr_accesses = r[3], age = r[4] or 0 }
  end
  return { time_us = k * 100000, start_us = (k - 1) * 100000, targets = { { id = 1, regions = rs } } }
end
-- Five snapshots whose working sets are 1, 2, 3, 4 and 5 MiB.
local snaps = {}
for k = 1, 5 do
  snaps[k] = snap(k, { { 0, k * MiB, 10 }, { k * MiB, 8 * MiB, 0 } })
end

local rows = report.wss(snaps)
t.is_deeply(rows, { { percentile = 0, value = 1 * MiB }, { percentile = 25, value = 2 * MiB },
  { percentile = 50, value = 3 * MiB }, { percentile = 75, value = 4 * MiB }, { percentile = 100, value = 5 * MiB } },
  "wss percentiles by size")
local backwards = {}
for k = 1, 5 do backwards[k] = snaps[6 - k] end
rows = report.wss(backwards, { sortby = "time", percentiles = { 0, 100 } })
t.is_deeply({ rows[1].value, rows[2].value }, { 5 * MiB, 1 * MiB }, "sorted by time follows the run")
local _, text = report.wss(snaps, { percentiles = { 50 } })
t.is(text, "# <percentile> <wss>\n 50 3.000 MiB\n", "wss text")
rows = report.wss(snaps, { thres = 11 })
t.is(rows[5].value, 0, "thres: regions below it are not in the working set")
t.is_deeply(report.nr_regions(snaps, { percentiles = { 0, 100 } }),
  { { percentile = 0, value = 2 }, { percentile = 100, value = 2 } }, "nr_regions")
t.error_like(function() report.wss(snaps, { sortby = "colour" }) end, "sortby", "bad sortby")
t.error_like(function() report.wss(snaps, { percentiles = { 101 } }) end, "0 to 100", "bad percentile")

local raw = report.raw(snaps)
t.like(raw, "nr_regions:%s+2\n", "raw lists the region count")
t.like(raw, "000000000000%-000000100000 %(1%.000 MiB%) 10 0", "raw lists a region")

-- heats: a 2x2 grid where the hot half of the address space is bottom
local h = report.heats({ snap(1, { { 0, 4 * MiB, 20 }, { 4 * MiB, 8 * MiB, 0 } }),
  snap(2, { { 0, 4 * MiB, 0 }, { 4 * MiB, 8 * MiB, 10 } }) }, { time_res = 2, addr_res = 2 })
t.is_deeply(h.heat, { { 20, 0 }, { 0, 10 } }, "heats: low addresses hot first, high addresses later")
t.is(h.t0, 0, "heats: time from 0")
t.is(h.t1, 0.2, "heats: to 0.2 s")
local txt = report.heats_text(h)
t.like(txt, "0%.000000 0 20%.000", "heats text: time address heat")
t.like(txt, "# guide: time 0%.000%-0%.200 s in 2 columns", "heats text has a guide")
local ansi = report.heatmap(snaps, { time_res = 10, addr_res = 4 })
t.like(ansi, "\27%[48;5;%d+m", "an ANSI heatmap for terminals")

-- images
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)
for _, ext in ipairs { "png", "svg", "pdf" } do
  local path = dir .. "/h." .. ext
  t.ok(report.heatmap(snaps, { output = path }), ext .. " written")
  local f = io.open(path, "rb")
  local data = f and f:read("a") or ""
  if f then f:close() end
  local magic = { png = "^\137PNG", svg = "<svg", pdf = "^%%PDF" }
  t.like(data, magic[ext], ext .. " has the right signature")
  if ext == "png" then
    local w, hh = string.unpack(">I4>I4", data, 17)
    t.is_deeply({ w, hh }, { 900, 540 }, "png size")
  end
end
local r, err = report.heatmap(snaps, { output = dir .. "/h.bmp" })
t.like(err, "unknown image type '%.bmp'", "unknown image type")

-- the command line
record.write(dir .. "/r.json", snaps, { format = "json" })
local function run(args)
  local p = io.popen(vmlab_bin .. " report " .. args .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end
local out, code = run("wss -i " .. dir .. "/r.json --percentiles 0 100")
t.is(out, "# <percentile> <wss>\n  0 1.000 MiB\n100 5.000 MiB\n", "vmlab report wss")
t.is(code, 0, "exit 0")
out = run("nr_regions -i " .. dir .. "/r.json")
t.like(out, "<nr_regions>", "vmlab report nr_regions")
out = run("raw -i " .. dir .. "/r.json")
t.like(out, "monitoring_end", "vmlab report raw")
out = run("heats -i " .. dir .. "/r.json --resolution 4 4")
t.like(out, "in 4 columns", "vmlab report heats --resolution")
out = run("heatmap -i " .. dir .. "/r.json -o " .. dir .. "/cli.png")
t.like(out, "heatmap written", "vmlab report heatmap -o")
out, code = run("wss")
t.like(out, "%-i <record file> is needed", "missing -i")
t.is(code, 1, "exits 1")
out, code = run("frob -i x")
t.like(out, "unknown report 'frob'", "unknown kind")
out, code = run("wss -i " .. dir .. "/nonexistent")
t.like(out, "No such file", "missing record file")
t.is(code, 1, "exits 1")
out = run("wss -i " .. dir .. "/r.json --bogus")
t.like(out, "unknown option '%-%-bogus'", "unknown option")
os.execute("rm -rf " .. dir)
t.done_testing()
