-- In the guest: the kernel backend of damon.monitor (a kdamond vmlab
-- starts, vaddr on the runtime's own process) on a 64 MiB segment with a
-- hotspot workload; the kernel's regions come back as snapshots.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local g = dofile(arg[0]:match("^(.*/)") .. "kguest.lua")
local ok, why = damon.kernel_available()
if not ok then t.skip_all("kernel DAMON: " .. why) end
local MiB = 1024 * 1024
local s = g.segment("kmon", 64 * MiB // g.ps)
s:touch({ op = "write", all = true })
local a = g.attrs()
t.note("attributes: " .. a.text)
local w = require("vmlab.workload").new { target = s, pattern = "hotspot",
  hot = { offset = 16 * MiB, length = 64 * MiB // 10 // g.ps * g.ps }, hot_share = 1, op = "write" }
local spinner = g.tlb_churn(1)        -- see kguest.lua: TCG's accessed bits
assert(g.pin(1))
w:start()
assert(g.pin(0, 1))
local m = assert(damon.monitor { backend = "kernel", targets = { s }, sample = a.sample, aggr = a.aggr,
  update = a.update, min_regions = 10, max_regions = 1000 })
local oks, err = m:start()
t.ok(oks, "the kernel monitor starts" .. (oks and "" or ": " .. tostring(err)))
require("vmlab").snooze(a.settle)
-- consecutive aggregations (each kernel snapshot waits for the next)
local hot, hot_len = s.addr + 16 * MiB, 64 * MiB // 10 // g.ps * g.ps
local sc, nregs = g.converge(function()
  local snap, why = m:snapshot()
  if not snap then return nil, why end
  return snap.targets[1].regions
end, hot, hot_len, s.addr, s.size)
m:stop()
w:close()
m:close()
if spinner then spinner:kick("KILL"); spinner:wait(10) end
t.cmp_ok(nregs, ">", 0, "the snapshots have the kernel's regions (" .. nregs .. ")")
t.note(sc.text)
local found = t.cmp_ok(sc.hot_cov, ">=", 0.9, "the hot 10% is found: " .. sc.text)
if not t.cmp_ok(sc.cold_hot, "<=", 0.1, "little cold memory reported accessed") or not found then
  t.diag(string.format("hot range %+.2f MiB, %.2f MiB", (hot - s.addr) / MiB, hot_len / MiB))
  g.diag_regions(t, sc.regs, s.addr, s.size)
end
t.done_testing()
