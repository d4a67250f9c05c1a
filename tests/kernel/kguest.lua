-- Helpers the kernel-DAMON guest scenarios share (dofile next to the .t).
local vmlab = require "vmlab"
local seg = require "vmlab.seg"
local M = {}
-- These scenarios start kdamonds: outside a guest (tests/guest/run sets
-- VMLAB_GUEST_NAME) they would touch this machine's DAMON, which vmlab
-- leaves alone unless asked (VMLAB_MATRIX_HOST_DAMON=1, tests/guest/matrix).
if not os.getenv("VMLAB_GUEST_NAME") and os.getenv("VMLAB_MATRIX_HOST_DAMON") ~= "1" then
  require("vmlab.tap").skip_all("kernel-DAMON scenarios run in a guest (tests/kernel/guest); " ..
    "VMLAB_MATRIX_HOST_DAMON=1 runs them on this machine's kernel")
end
M.ps = vmlab.pagesize()
M.accel = os.getenv("VMLAB_GUEST_ACCEL") or "host"

-- A fresh anonymous segment of n small pages, off THP (Debian's kernels
-- have THP "always": a huge page would be one access bit for 512 pages).
function M.segment(name, npages)
  local s = assert(seg.anon(name, npages * M.ps))
  assert(s:advise("nohugepage"))
  return s
end

-- Monitoring attributes scaled to the machine's speed: under TCG the
-- workload makes some 10x fewer accesses per second, and a sample interval
-- must still see a hot page accessed, so sampling and aggregation stretch
-- by that factor.  `settle` is how long to let the kdamond adapt its regions
-- (some update intervals and aggregations).
function M.attrs()
  local f = (M.accel == "tcg") and 4 or 1
  local a = { sample = 5000 * f, aggr = 100000 * f, update = 500000 * f }
  a.settle = 16 * a.aggr / 1e6
  a.sample_s, a.aggr_s, a.update_s = a.sample / 1e6, a.aggr / 1e6, a.update / 1e6
  a.text = string.format("%s: sample %d us, aggr %d us, update %d us, settle %.1f s", M.accel,
    a.sample, a.aggr, a.update, a.settle)
  a.sample, a.aggr, a.update = a.sample .. "us", a.aggr .. "us", a.update .. "us"
  return a
end

-- QEMU's TCG sets a PTE's accessed bit only when it fills its software TLB,
-- and x86 Linux clears accessed bits without a TLB flush (DAMON's mkold),
-- so a thread that never leaves its CPU keeps hitting its cached entries
-- and the kernel sees no access.  On a real machine other processes force
-- context switches (CR3 writes flush the TLB); here a spinning process on
-- the workload's CPU does.  Returns the spinner (kick("KILL") it), or nil
-- outside a TCG guest.
function M.tlb_churn(cpu)
  if M.accel ~= "tcg" then return nil end
  local numa = require "vmlab.numa"
  return require("vmlab.proc").fork(function()
    assert(numa.cpus({ cpu }))
    while true do end
  end)
end

-- A thread's utime + stime in seconds (clock ticks: 100 Hz on Debian), 0
-- when it is gone: a kdamond's CPU.
function M.thread_cpu(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return 0 end
  local s = f:read("l") or ""
  f:close()
  local rest = s:match("%) (.*)$")
  if not rest then return 0 end
  local fields = {}
  for x in rest:gmatch("%S+") do fields[#fields + 1] = x end
  return (tonumber(fields[12]) + tonumber(fields[13])) / 100
end

-- Run the calling thread (and the threads it starts from now on) on these
-- CPUs: M.pin(1) before a workload starts puts it beside the spinner,
-- M.pin(0, 1) after lets the rest run anywhere.
function M.pin(...)
  return require("vmlab.numa").cpus({ ... })
end

-- Score regions against a hot range [hot, hot+hot_len) in [base, base+size):
-- hot_cov: fraction of the hot bytes inside regions seen accessed;
-- cold_hot: fraction of the cold bytes reported accessed; wss: bytes seen accessed.
function M.score(regions, hot, hot_len, base, size)
  local covered, cold_in, wss, maxacc = 0, 0, 0, 0
  for _, r in ipairs(regions) do
    local a, b = math.max(r.start, base), math.min(r["end"], base + size)
    if b > a and r.nr_accesses > 0 then
      wss = wss + (b - a)
      local lo, hi = math.max(a, hot), math.min(b, hot + hot_len)
      local inhot = hi > lo and hi - lo or 0
      covered = covered + inhot
      cold_in = cold_in + (b - a) - inhot
    end
    maxacc = math.max(maxacc, r.nr_accesses)
  end
  local sc = { hot_cov = covered / hot_len, cold_hot = cold_in / (size - hot_len), wss = wss, max_acc = maxacc }
  sc.text = string.format("hot bytes covered %.1f%%, cold bytes reported %.1f%%, wss %.1f MiB, %d regions, max nr_accesses %d",
    sc.hot_cov * 100, sc.cold_hot * 100, wss / 1048576, #regions, maxacc)
  return sc
end
-- The median by hot coverage of scores of consecutive aggregations: one
-- aggregation in which the workload thread was descheduled (TCG runs all
-- vCPUs on one host thread) must not decide a result.
function M.median(scores)
  table.sort(scores, function(x, y) return x.hot_cov < y.hot_cov end)
  local m = scores[(#scores + 1) // 2]
  m.text = m.text .. string.format(" (median of %d aggregations)", #scores)
  return m
end
-- Read aggregations (next() returns one aggregation's regions, or nil and
-- why) until the median of the last three finds the hotspot (>= 90% of the
-- hot bytes, <= 10% of the cold ones) or `max` aggregations have been read.
-- DAMON adapts its regions over several aggregations, and how many it needs
-- depends on how fast the guest runs (a TCG guest on a loaded 2-core host
-- runs slower): the verdict is the first window that passes, or the last
-- one.  A quiet host passes on the first window; CI's (prove -j2 beside
-- the guest's one TCG thread) once still read 88.6% of the hot bytes after
-- 12 aggregations, so the default is 40 (16 s under TCG, spent only while
-- the regions have not narrowed down yet).  Returns that median score (its .tried says how many were read, .errs
-- the reasons of any empty reads) and the most regions one aggregation had.
function M.converge(next, hot, hot_len, base, size, max)
  local window, nregs, errs, tried = {}, 0, {}, 0
  local sc
  for i = 1, max or 40 do
    tried = i
    local regs, why = next()
    if not regs then errs[#errs + 1] = tostring(why); regs = {} end
    nregs = math.max(nregs, #regs)
    local one = M.score(regs, hot, hot_len, base, size)
    one.regs = regs
    window[#window + 1] = one
    if #window > 3 then table.remove(window, 1) end
    if #window == 3 then
      local copy = { window[1], window[2], window[3] }
      sc = M.median(copy)
      if sc.hot_cov >= 0.9 and sc.cold_hot <= 0.1 then break end
    end
  end
  sc = sc or M.median(window)
  sc.tried, sc.errs = tried, errs
  sc.text = sc.text .. string.format(", after %d aggregation(s) read", tried) ..
    (#errs > 0 and ("; empty reads: " .. table.concat(errs, "; ")) or "")
  return sc, nregs
end
-- On a failed verdict, the regions that decided it (those around the segment
-- [base, base+size)), so a failure in CI's log says what DAMON saw.
function M.diag_regions(t, regs, base, size)
  for _, r in ipairs(regs or {}) do
    if r["end"] > base and r.start < base + size then
      t.diag(string.format("region %+.2f MiB, %.2f MiB: nr_accesses %d, age %d", (r.start - base) / 1048576,
        (r["end"] - r.start) / 1048576, r.nr_accesses, r.age or -1))
    end
  end
end
return M
