-- In the guest: kernel DAMON (vaddr) on another process by pid, configured
-- through sysfs by vmlab.damon.kdamond.  A forked child writes a 10%
-- hotspot of a 64 MiB segment; a stat scheme's tried regions must cover
-- >= 90% of the hot bytes; a pageout scheme for regions idle for a few
-- aggregations must show applied regions in its stats and tried regions.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local g = dofile(arg[0]:match("^(.*/)") .. "kguest.lua")
local ok, why = damon.kernel_available()
if not ok then t.skip_all("kernel DAMON: " .. why) end
local vmlab = require "vmlab"
local proc = require "vmlab.proc"
local kdamond = require "vmlab.damon.kdamond"
local status = require "vmlab.damon.status"
local MiB = 1024 * 1024
local size = 64 * MiB
local hot_off, hot_len = 16 * MiB, size // 10 // g.ps * g.ps
local s = g.segment("kpid", size // g.ps)
s:touch({ op = "write", all = true })
local spinner = g.tlb_churn(1)
local child = proc.fork(function()
  assert(g.pin(1))
  local w = require("vmlab.workload").new { target = s, pattern = "hotspot",
    hot = { offset = hot_off, length = hot_len }, hot_share = 1, op = "write" }
  w:start()
  vmlab.snooze(120)
end)
local a = g.attrs()
t.note("attributes: " .. a.text)
-- consecutive aggregations (each update waits for the next one) until three
-- in a row find the hotspot, or 40 (kguest.lua's converge)
local function stat_median(k)
  return g.converge(function()
    local sch = k:scheme(1)
    return sch and sch.tried_regions or nil, "no scheme 1"
  end, s.addr + hot_off, hot_len, s.addr, s.size)
end
if vmlab.sanitized then
  -- the sanitizers' shadow maps span terabytes: three regions of such a
  -- process do not narrow down to a 6 MiB hotspot in seconds
  t.skip("vaddr on the whole process: AddressSanitizer's shadow spans terabytes", 3)
else
  -- vaddr with no regions (first, on a fresh child): the kernel monitors its whole
  -- address space (three regions) and still finds the hotspot
  local kd, err = kdamond.start { ops = "vaddr", pid = child.pid, sample = a.sample, aggr = a.aggr, update = a.update,
    min_regions = 10, max_regions = 1000, schemes = { { action = "stat" } } }
  t.ok(kd, "a vaddr kdamond on the whole child starts" .. (kd and "" or ": " .. tostring(err)))
  if not kd then child:kick("KILL"); if spinner then spinner:kick("KILL") end; t.done_testing(); return end
  -- from a few huge regions to the hotspot takes DAMON more aggregations
  vmlab.snooze(2 * a.settle)
  local sc = stat_median(kd)
  local lo, hi = math.huge, 0
  for _, r in ipairs(sc.regs) do lo = math.min(lo, r.start); hi = math.max(hi, r["end"]) end
  t.note(string.format("vaddr, whole process, after %.1f s: %s; regions span 0x%x-0x%x", 2 * a.settle, sc.text, lo, hi))
  t.ok(lo < s.addr and hi > s.addr + s.size, "the regions span the process, beyond the segment")
  if not t.cmp_ok(sc.hot_cov, ">=", 0.9, "the hotspot is found among them: " .. sc.text) then
    g.diag_regions(t, sc.regs, s.addr, s.size)
  end
  kd:close()
end

-- fvaddr on the segment, with a pageout scheme
local kd, err = kdamond.start { pid = child.pid, regions = { s }, sample = a.sample, aggr = a.aggr,
  update = a.update, min_regions = 10, max_regions = 1000,
  schemes = { { action = "stat" }, { action = "pageout", nr_accesses = { max = 0 }, age = { min = 3 } } } }
t.ok(kd, "a kdamond on the child's pid starts" .. (kd and "" or ": " .. tostring(err)))
if not kd then child:kick("KILL"); if spinner then spinner:kick("KILL") end; t.done_testing(); return end
t.type_ok(kd:pid(), "integer", "the kdamond thread has a pid")
t.is(kd:state(), "on", "state on")

local again, aerr, aerrno = kdamond.start { pid = child.pid, schemes = { { action = "stat" } } }
t.is(again, nil, "a second kdamond is refused while ours runs")
t.ok(aerrno == 16 and tostring(aerr):find("already runs 1 kdamond"), "EBUSY, with the reason: " .. tostring(aerr))

vmlab.snooze(a.settle)
local sc, nregs = stat_median(kd)
t.note("fvaddr, stat scheme after " .. a.settle .. " s: " .. sc.text)
t.cmp_ok(nregs, ">", 0, "the stat scheme's tried regions are not empty")
local found = t.cmp_ok(sc.hot_cov, ">=", 0.9, "the 10% hotspot is found (" .. a.text .. "): " .. sc.text)
if not t.cmp_ok(sc.cold_hot, "<=", 0.1, "little cold memory reported accessed") or not found then
  g.diag_regions(t, sc.regs, s.addr, s.size)
end

-- a pageout resets the region's age, so for the next few aggregations no
-- region may be old enough: wait up to 8 aggregations for tried regions
local po
for _ = 1, 8 do
  po = kd:scheme(2)
  if #(po.tried_regions or {}) > 0 then break end
end
t.note(string.format("pageout: tried %d regions (%d bytes), applied %d (%d bytes), tried regions now %d",
  po.stats.nr_tried, po.stats.sz_tried, po.stats.nr_applied, po.stats.sz_applied, #(po.tried_regions or {})))
t.is(po.action, "pageout", "the pageout scheme reads back")
t.is(po.access_pattern.age.min, 3, "with its access pattern")
t.cmp_ok(po.stats.nr_applied, ">", 0, "its stats show applied regions")
t.cmp_ok(po.stats.sz_applied, ">", 0, "and applied bytes")
t.cmp_ok(#(po.tried_regions or {}), ">", 0, "its tried regions are not empty")
local cold_tried = 0
for _, r in ipairs(po.tried_regions or {}) do
  local lo, hi = math.max(r.start, s.addr + hot_off), math.min(r["end"], s.addr + hot_off + hot_len)
  if hi > lo then cold_tried = cold_tried + (hi - lo) end
end
t.cmp_ok(cold_tried, "<=", hot_len // 10, "and they hardly touch the hotspot")

-- the read-only view sees the same kdamond
local ks = status.kernel_status()
local ctx = ks and ks.kdamonds[1] and ks.kdamonds[1].contexts[1]
t.is(ctx and ctx.targets[1].pid, child.pid, "kernel_status shows the target pid")
t.is(ctx and #ctx.schemes, 2, "and both schemes")

if spinner then spinner:kick("KILL"); spinner:wait(10) end
-- the kdamond ends with its only target
child:kick("KILL")
child:wait(10)
local state
for _ = 1, 50 do
  state = kd:state()
  if state == "off" then break end
  vmlab.snooze(0.1)
end
t.is(state, "off", "the kdamond stops when its target exits")
kd:close()
local f = io.open("/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds")
t.is(f and f:read("l"), "0", "close removes it")
if f then f:close() end

-- the kernel's errors name the file and carry its errno
local bad, berr, berrno = kdamond.start { pid = vmlab.pid(), schemes = { { action = "nonsense" } } }
t.is(bad, nil, "an action the kernel does not know is refused")
t.like(berr, "writing 'nonsense' to /sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/0/action",
  "naming the file and the value")
t.is(berrno, 22, "with the kernel's EINVAL")
f = io.open("/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds")
t.is(f and f:read("l"), "0", "and the half-made kdamond is removed")
if f then f:close() end
t.done_testing()
