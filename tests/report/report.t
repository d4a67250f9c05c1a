-- Reports on hand-made records with known answers (damo's rules: 20
-- snapshots skipped, targets summed, its percentile index), the heatmap's
-- pixels, images, replay, and the `vmlab report` command line on bad input.
local t = require "vmlab.tap"
local vmlab = require "vmlab"
local report = require "vmlab.report"
local record = require "vmlab.record"
local seg = require "vmlab.seg"
local damon = require "vmlab.damon"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"

local MiB = 1 << 20
local function snap(k, regions, id)
  local rs = {}
  for i, r in ipairs(regions) do
    rs[i] = { start = r[1], ["end"] = r[2], nr_accesses = r[3], age = r[4] or 0 }
  end
  return { time_us = k * 100000, start_us = (k - 1) * 100000, targets = { { id = id or 1, regions = rs } } }
end
-- Five snapshots whose working sets are 1, 2, 3, 4 and 5 MiB.
local snaps = {}
for k = 1, 5 do snaps[k] = snap(k, { { 0, k * MiB, 10 }, { k * MiB, 8 * MiB, 0 } }) end
local function values(d) return d[1].values end

local d, text = report.wss(snaps, { exclude_samples = 0 })
t.is_deeply(values(d), { 1 * MiB, 2 * MiB, 3 * MiB, 4 * MiB, 5 * MiB }, "wss: sorted sizes")
t.is(text, "# target_id\t0\n# <percentile> <wss>\n# avr:\t3.000 MiB\n" ..
  "  0    1024.000 KiB |***********                                                |\n" ..
  " 25       2.000 MiB |***********************                                    |\n" ..
  " 50       3.000 MiB |***********************************                        |\n" ..
  " 75       4.000 MiB |***********************************************            |\n" ..
  "100       5.000 MiB |***********************************************************|\n",
  "wss text as damo's: percentile index int(p/100*n), avr, bars")
t.is(#values(report.wss(snaps)), 0, "wss skips the first 20 snapshots by default")
t.like(select(2, report.wss(snaps)), "# no snapshot", "...and says so when none is left")
local backwards = {}
for k = 1, 5 do backwards[k] = snaps[6 - k] end
t.is_deeply(values(report.wss(backwards, { sortby = "time", exclude_samples = 0 })),
  { 5 * MiB, 4 * MiB, 3 * MiB, 2 * MiB, 1 * MiB }, "sortby time follows the run")
t.is(values(report.wss(snaps, { acc_thres = 11, exclude_samples = 0 }))[5], 0, "acc_thres: colder regions are not in the working set")
-- two targets: summed unless per target
local two = {}
for k = 1, 3 do
  two[k] = snap(k, { { 0, MiB, 1 } }, 1)
  two[k].targets[2] = { id = 2, regions = { { start = 0, ["end"] = 2 * MiB, nr_accesses = 1, age = 0 } } }
end
t.is_deeply(values(report.wss(two, { exclude_samples = 0 })), { 3 * MiB, 3 * MiB, 3 * MiB }, "targets summed")
d = report.wss(two, { exclude_samples = 0, collapse_targets = false })
t.is_deeply({ d[1].target_id, d[1].values[1], d[2].target_id, d[2].values[1] }, { 1, MiB, 2, 2 * MiB },
  "collapse_targets = false: per target")
-- work_time: damo's aggregation; overlapping regions add the most accessed
local agg = { snap(1, { { 0, 4 * MiB, 3 } }), snap(2, { { 0, 2 * MiB, 5 }, { 2 * MiB, 4 * MiB, 1 } }),
  snap(3, { { 0, 4 * MiB, 0 } }) }
d = report.wss(agg, { exclude_samples = 0, work_time = 200000, acc_thres = 8 })
t.is_deeply(values(d), { 4 * MiB }, "work_time 200 ms: two snapshots in one, 3 + max(5, 1) = 8 accesses; the odd one dropped")
t.is_deeply(values(report.wss(agg, { exclude_samples = 0, work_time = 200000, acc_thres = 9 })), { 0 },
  "...and not 9")
d, text = report.nr_regions(snaps, { exclude_samples = 0, range = { 0, 101, 50 } })
t.is(text, "# <percentile> <# regions>\n# target_id\t1\n# avr:\t2\n0\t2\n50\t2\n100\t2\n", "nr_regions")
t.error_like(function() report.wss(snaps, { sortby = "colour" }) end, "sortby", "bad sortby")
t.error_like(function() report.wss(snaps, { range = { 0, 10, 0 } }) end, "step cannot be 0", "a zero step")
t.error_like(function() report.nr_regions(snaps, { percentile = { 1 } }) end, "unknown option 'percentile'",
  "options checked")

local raw = report.access(snaps, { raw_form = true })
local want = "base_time_absolute: 0 ns\ndata source: unknown\n\nmonitoring_start:                0 ns\n" ..
  "monitoring_end:                100 ms\nmonitoring_duration:           100 ms\ntarget_id: 1\nnr_regions: 2\n" ..
  "# start_addr     end_addr        length  nr_accesses   age\n" ..
  "000000000000-000000100000 (1024.000 KiB)          10     0\n" ..
  "000000100000-000000800000 (   7.000 MiB)           0     0\n\nmonitoring_start"
t.is(raw:sub(1, #want), want, "access --raw_form as damo's")
t.is(report.raw(snaps), raw, "raw: damo 2's name")

-- heatmap pixels: 2 snapshots x 2 address halves, no intervals: samples
local hs = { snap(1, { { 0, 4 * MiB, 20 }, { 4 * MiB, 8 * MiB, 0 } }), snap(2, { { 0, 4 * MiB, 0 }, { 4 * MiB, 8 * MiB, 10 } }) }
local rawhm = report.heatmap(hs, { output = "raw", resol = { 2, 2 }, address_range = { { 0, 8 * MiB } } })
t.is(rawhm, "0\t0\t20.0\n0\t4194304\t0.0\n100000000\t0\t0.0\n100000000\t4194304\t10.0\n",
  "raw triples: time, address (relative), heat")
t.is(report.heats(hs, { resol = { 2, 2 }, address_range = { { 0, 8 * MiB } }, abs_time = true }):match("^[^\n]*"),
  "0\t0\t20.0", "heats: damo 2's name")
t.like(report.heatmap(hs, { output = "raw", resol = { 2, 4 }, address_range = { { 0, 16 * MiB } } }),
  "\t12582912\tNaN\n", "a pixel no region touched has no heat: NaN")
local G = 1 << 30
local gap = { snap(1, { { G, G + MiB, 1 }, { G + 2 * MiB, G + 3 * MiB, 0 }, { 2 * G, 2 * G + MiB, 0 } }),
  snap(2, { { G, G + 2 * MiB, 1 }, { G + 2 * MiB, G + 3 * MiB, 0 }, { 2 * G + 4096, 2 * G + MiB, 0 } }) }
-- damo 3.3 prints this for the same record: a gap of the first snapshot
-- stays a gap though the second covers part of it (damo's rule)
t.is(report.record_info(gap), "target_id: 1\ntime: [0 ns, 200 ms) (200 ms)\n" ..
  "region\t 0: [1024.000000 MiB, 1.000977 GiB) (1024.000 KiB)\n" ..
  "region\t 1: [1.001953 GiB, 1.002930 GiB) (1024.000 KiB)\n" ..
  "region\t 2: [2.000000 GiB, 2.000977 GiB) (1024.000 KiB)\n", "record_info: gaps cut the space, as damo's")
local asc = report.heatmap(hs, { resol = { 2, 2 }, address_range = { { 0, 8 * MiB } }, stdout_colorset = "none" })
t.is(asc, "80\n04\n# access_frequency: 0123456789 (0.000-20.000 samples)\n" ..
  "# x-axis: space [0 B, 8.000000 MiB) (8.000 MiB)\n# y-axis: time [0 ns, 200 ms) (200 ms)\n" ..
  "# resolution: 2x2 (4.000 MiB and 100 ms for each character)\n", "stdout: a digit per pixel, time down, legend")
t.like(report.heatmap(hs, { resol = { 2, 2 } }), "\27%[48;5;232m\27%[38;5;255m9", "colours as damo's gray set")

-- images: damo's sample record (500x500 cells) as a small SVG
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)
local sample = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests/report") .. "/damo/damon.data"
for _, ext in ipairs { "png", "svg", "pdf" } do
  local path = dir .. "/h." .. ext
  local ok, err = report.heatmap(sample, { output = path })
  t.ok(ok, ext .. " written" .. (err and (": " .. err) or ""))
  local f = io.open(path, "rb")
  local data = f and f:read("a") or ""
  if f then f:close() end
  local magic = { png = "^\137PNG", svg = "<svg", pdf = "^%%PDF" }
  t.like(data, magic[ext], ext .. " has the right signature")
  if ext == "png" then t.is_deeply({ string.unpack(">I4>I4", data, 17) }, { 900, 540, 25 }, "png size") end
  if ext == "svg" then t.cmp_ok(#data, "<=", 1 << 20, "a 500x500 heatmap's SVG is at most 1 MiB (" .. #data .. " bytes)") end
end
local _, err = report.heatmap(sample, { output = dir .. "/h.bmp" })
t.like(err, "unknown image type '%.bmp'", "unknown image type")
t.ok(report.wss(sample, { plot = dir .. "/w.png" }), "wss plot")
t.ok(report.nr_regions(sample, { plot = dir .. "/n.svg" }), "nr_regions plot")

-- replay: the record as the replay backend's oracle, exact in virtual time
local base = 0x100000000
local rs = {}
for k = 1, 10 do
  rs[k] = { time_us = 1000000 + k * 100000, start_us = 1000000 + (k - 1) * 100000,
    targets = { { id = 7, regions = { { start = base, ["end"] = base + 64 * MiB, nr_accesses = (k * 3) % 21 } } } } }
end
assert(record.write(dir .. "/rep.json", rs, { format = "json", intervals = { sample = 0.005, aggr = 0.1, update = 1 } }))
local oracle, info = report.replay_oracle(dir .. "/rep.json")
t.is(info.slots, 20, "oracle: 20 samples per aggregation, from the record's intervals")
local m = damon.monitor { targets = { { start = base, ["end"] = base + 64 * MiB } }, backend = "replay",
  oracle = oracle, sample = "5ms", aggr = "100ms", min_regions = 3, max_regions = 3 }
local got, want = {}, {}
m:on_aggregate(function(s)
  local n = s.targets[1].regions[1].nr_accesses
  for _, r in ipairs(s.targets[1].regions) do if r.nr_accesses ~= n then n = -1 end end
  got[#got + 1] = n
end)
m:step(200)
m:close()
for k = 1, 10 do want[k] = (k * 3) % 21 end
t.is_deeply(got, want, "a monitor on the replayed record sees the record's nr_accesses, aggregation by aggregation")
-- and in real time, on a segment: the accessed pages become resident
local rt = { snap(1, { { 0, MiB, 20 }, { MiB, 4 * MiB, 0 } }) }
rt[1].time_us, rt[1].start_us = 20000, 0
local s <close> = seg.anon("replay", "4m")
t.is(report.replay(rt, s, { base = 0, sample_us = 5000, aggr_us = 20000 }), 1, "replay: one snapshot replayed")
local resident = s:resident()
t.ok(resident, "resident pages counted")
if type(resident) == "number" then
  t.is(resident, MiB // vmlab.pagesize(), "the accessed MiB was touched, the rest not")
end

-- the command line on bad input
record.write(dir .. "/r.json", snaps, { format = "json" })
local function run(args)
  local p = io.popen(vmlab_bin .. " report " .. args .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end
local out, code = run("wss -i " .. dir .. "/r.json --exclude_samples 0 -r 0 101 100 --raw_number")
t.is(out, "# target_id\t0\n# <percentile> <wss>\n# avr:\t3145728\n  0         1048576 |" .. ("*"):rep(11) ..
  (" "):rep(48) .. "|\n100         5242880 |" .. ("*"):rep(59) .. "|\n", "vmlab report wss")
t.is(code, 0, "exit 0")
out, code = run("frob -i x")
t.like(out, "unknown report 'frob'; valid reports: access, wss", "unknown kind")
t.is(code, 1, "exits 1")
out, code = run("wss -i " .. dir .. "/nonexistent")
t.like(out, "No such file", "missing record file")
out = run("heats -i " .. dir)
t.is(out, "vmlab report heats: " .. dir .. " is a directory, not a record file\n", "a directory, named")
out = run("heats -i /dev/zero")
t.is(out, "vmlab report heats: /dev/zero is a character device, not a record file\n", "/dev/zero: refused at once")
os.execute("mkfifo " .. dir .. "/fifo")
out = run("heats -i " .. dir .. "/fifo")
t.is(out, "vmlab report heats: " .. dir .. "/fifo is a FIFO, not a record file\n", "a FIFO: refused without waiting")
local bad = io.open(dir .. "/bad.json", "w")
bad:write('[{"target_id": 1, "snapshots": [{"start_time": "0", "end_time": "5", "regions": [{"start": 9, "end": 3, "nr_accesses": 1}]}]}]')
bad:close()
out = run("heats -i " .. dir .. "/bad.json")
t.like(out, "^vmlab report heats: [^\n]*a region ends before it starts %(record 0, snapshot 0, region 0%)\n$",
  "a corrupt record: the message, no stdlib file:line")
out = run("wss -i " .. dir .. "/r.json --per_tgt")
t.like(out, "unknown option '%-%-per_tgt'; valid options:", "unknown option")
out = run("heatmap -i " .. dir .. "/r.json --resol x 4")
t.like(out, "option %-%-resol takes whole numbers, not 'x'", "a bad value")
os.execute("rm -rf " .. dir)
t.done_testing()
