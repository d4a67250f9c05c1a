-- Record a phased workload with the prot sampler and draw its heatmap.
--   build/vmlab examples/heatmap.lua [out.png]
-- Three phases over a 128 MiB segment: a hot 16 MiB at the bottom, then a
-- hot 16 MiB in the middle, then random accesses to the top quarter.
local vmlab = require "vmlab"
local seg = require "vmlab.seg"
local damon = require "vmlab.damon"
local workload = require "vmlab.workload"
local report = require "vmlab.report"

-- os.tmpname() creates the file it names: keep it (so the name stays ours)
-- and remove it at the end with the record made beside it
local base = os.tmpname()
local out = arg and arg[1] or base .. ".png"
local rec = base .. ".json.z"
local buf <close> = seg.anon("heat", "128m")
buf:touch({ op = "write", all = true })

local w <close> = workload.new { target = buf, interval = "50ms", phases = {
  { pattern = "hotspot", hot = { offset = 0, length = "16m" }, hot_share = 1, duration = "0.8s" },
  { pattern = "hotspot", hot = { offset = "56m", length = "16m" }, hot_share = 1, duration = "0.8s" },
  { pattern = "hotspot", hot = { offset = "96m", length = "32m" }, hot_share = 1, rate = 3e5 } } }
local m <close> = damon.monitor { targets = { buf }, sample = "5ms", aggr = "50ms", budget = 0.25,
  record = rec }
m:start()
w:start()
vmlab.snooze("2.4s")
w:stop()
assert(m:stop())
local st = m:stats()
print(string.format("sampled %d times over %d aggregations (%d faults), %d regions",
  st.samples, st.aggregations, st.faults, st.nr_regions))
-- damo's rules: the first 20 snapshots (warm-up) are skipped by default
local _, wss = report.wss(rec, { range = { 10, 91, 40 }, exclude_samples = 0 })
io.write("working set size over the run:\n", wss)
assert(report.heatmap(rec, { output = out, title = "three phases of a workload" }))
print("heatmap: " .. out)
-- on the terminal: time down, addresses across, a digit 0-9 per cell
io.write(report.heatmap(rec, { resol = { 24, 64 } }))
os.remove(rec)
os.remove(base)
