-- In the 6.12 guest (tests/bench/damon_vs_kernel): the same workloads under
-- vmlab's prot backend and under kernel DAMON (fvaddr on this process, a
-- stat scheme's tried regions), on the same attributes, each scored against
-- the workload's ground truth: hot bytes covered, cold bytes reported
-- accessed, WSS error, and the CPU the sampler used (vmlab's sampler thread;
-- the kdamond thread's utime+stime from /proc).  Each is scored on the
-- median of its last three aggregations.
local vmlab = require "vmlab"
local damon = require "vmlab.damon"
local wl = require "vmlab.workload"
local g = dofile(arg[0]:match("^(.*/)") .. "kguest.lua")
local MiB = 1 << 20
local size = 64 * MiB
local ok, why = damon.kernel_available()
if not ok then print("bench: damon-vs-kernel-hot: skipped: kernel DAMON: " .. why) return end
local a = g.attrs()
local aggrs = 12
print(string.format("# attributes (%s): sample %s, aggr %s, update %s; %d aggregations each, scored on the " ..
  "median of the last 3; prot with no CPU budget (as the kernel); workload on CPU 1%s", g.accel, a.sample, a.aggr, a.update, aggrs, g.accel == "tcg" and " beside a spinning process" or ""))

local thread_cpu = g.thread_cpu

local phase_s = (aggrs // 2) * a.aggr_s
local workloads = {
  hotspot = function(s) return { target = s, pattern = "hotspot", hot = { offset = 16 * MiB, length = size // 10 },
    hot_share = 1, op = "write" }, 16 * MiB, size // 10 end,
  -- zipf: the first tenth takes most accesses; scored as the "hot" part.
  -- Its tail is touched too (the truth's WSS is most of the segment), so
  -- "cold bytes reported" counts that tail for both: WSS error is the fair figure
  zipf = function(s) return { target = s, pattern = "zipf", zipf = 1.2, op = "write" }, 0, size // 10 end,
  -- phases: the hot tenth moves from 16 MiB to 40 MiB halfway; scored
  -- on the second (how fast each monitor follows a change)
  phases = function(s) return { target = s, phases = {
    { pattern = "hotspot", hot = { offset = 16 * MiB, length = size // 10 }, hot_share = 1, op = "write",
      duration = phase_s },
    { pattern = "hotspot", hot = { offset = 40 * MiB, length = size // 10 }, hot_share = 1, op = "write" } } },
    40 * MiB, size // 10 end,
}

local function run(name, backend)
  local s = g.segment("bench-" .. name, size // g.ps)
  s:touch({ op = "write", all = true })
  local spec, hot_lo, hot_len = workloads[name](s)
  local w = wl.new(spec)
  -- the workload thread on CPU 1 beside a spinning process (kguest.lua:
  -- without context switches TCG hides its accesses from the kernel)
  assert(g.pin(1))
  w:start()
  assert(g.pin(0, 1))
  local t0 = vmlab.now()
  local scores, cpu, reader = {}, 0, 0
  local function scored(regs)
    local t1 = vmlab.now() - t0
    local truth = w:truth { from = t1 - 2 * a.aggr_s, to = t1 - a.aggr_s }.bytes
    local sc = g.score(regs, s.addr + hot_lo, hot_len, s.addr, s.size)
    sc.truth, sc.nregs = truth, #regs
    sc.wss_err = truth > 0 and math.abs(sc.wss - truth) / truth or 0
    scores[#scores + 1] = sc
  end
  if backend == "prot" then
    local m = assert(damon.monitor { targets = { s }, sample = a.sample, aggr = a.aggr, update = a.update,
      min_regions = 10, max_regions = 1000, seed = 1, budget = 0 })
    m:start()
    vmlab.snooze((aggrs - 3) * a.aggr_s)
    for snap in m:snapshots { count = 3, timeout = 20 * a.aggr_s } do scored(snap.targets[1].regions) end
    m:stop()
    local st = m:stats()
    cpu = st.cpu_seconds
    print(string.format("# %-8s prot   sampler: %d aggregations, %d samples, %d faults", name, st.aggregations,
      st.samples, st.faults))
    m:close()
  else
    -- damon.monitor's kernel backend: the kdamond (fvaddr on the segment,
    -- a stat scheme) samples; vmlab's reader thread fetches each
    -- aggregation's tried regions (its CPU is vmlab's share)
    local m = assert(damon.monitor { backend = "kernel", targets = { s }, sample = a.sample, aggr = a.aggr,
      update = a.update, min_regions = 10, max_regions = 1000 })
    assert(m:start())
    local ks = damon.kernel_status()
    local kpid = ks and ks.kdamonds and ks.kdamonds[1] and ks.kdamonds[1].pid
    local cpu0 = kpid and thread_cpu(kpid) or 0
    vmlab.snooze((aggrs - 3) * a.aggr_s)
    -- each kernel snapshot waits for the next aggregation
    for _ = 1, 3 do
      local snap = m:snapshot()
      scored(snap and snap.targets[1].regions or {})
    end
    cpu = kpid and thread_cpu(kpid) - cpu0 or 0
    m:stop()
    local st = m:stats()
    reader = st.cpu_seconds
    print(string.format("# %-8s kernel kdamond pid %s, %d aggregations read by vmlab", name, tostring(kpid),
      st.aggregations))
    m:close()
  end
  local rate = w:stats().rate or 0
  w:close()
  s:close()
  local sc = g.median(scores)
  print(string.format("# %-8s %-6s hot bytes covered %5.1f%%, cold bytes reported %5.1f%%, WSS %5.1f MiB vs " ..
    "%5.1f MiB truth (error %5.1f%%), %d regions, max nr_accesses %d, CPU: %s %.2f s%s, workload %.0f accesses/s",
    name, backend, sc.hot_cov * 100, sc.cold_hot * 100, sc.wss / MiB, sc.truth / MiB, sc.wss_err * 100, sc.nregs,
    sc.max_acc, backend == "prot" and "vmlab sampler" or "kdamond", cpu,
    backend == "prot" and "" or string.format(" + vmlab reader %.3f s", reader), rate))
  sc.cpu, sc.reader = cpu, reader
  return sc
end

local spinner = g.tlb_churn(1)
local results = {}
local names = { "hotspot", "zipf", "phases" }
for _, name in ipairs(names) do
  for _, backend in ipairs { "prot", "kernel" } do results[name .. "/" .. backend] = run(name, backend) end
end
if spinner then spinner:kick("KILL"); spinner:wait(10) end
-- one line per workload; the first (hotspot) keeps the bench's name
for _, name in ipairs(names) do
  local p, k = results[name .. "/prot"], results[name .. "/kernel"]
  local v, kv = p.hot_cov * 100, k.hot_cov * 100
  print(string.format("bench: damon-vs-kernel-hot%s: %.1f%% vs %.1f%% (goal vmlab >= kernel - 5 points; cold " ..
    "reported %.1f%% vs %.1f%%, WSS error %.1f%% vs %.1f%%, CPU vmlab sampler %.2f s vs kdamond %.2f s + reader %.3f s; " ..
    "%s, sample %s, aggr %s): %s", name == "hotspot" and "" or "-" .. name, v, kv, p.cold_hot * 100,
    k.cold_hot * 100, p.wss_err * 100, k.wss_err * 100, p.cpu, k.cpu, k.reader, g.accel, a.sample, a.aggr,
    v >= kv - 5 and "pass" or "fail"))
end
