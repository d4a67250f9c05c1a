-- In the guest: the kernel backend of damon.monitor (a kdamond vmlab
-- starts, vaddr on the runtime's own process) on a 64 MiB segment with a
-- hotspot workload; the kernel's regions come back as snapshots.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local ok, why = damon.kernel_available()
if not ok then t.skip_all("kernel DAMON: " .. why) end
local g = dofile(arg[0]:match("^(.*/)") .. "kguest.lua")
local MiB = 1024 * 1024
local s = g.segment("kmon", 64 * MiB // g.ps)
s:touch({ op = "write", all = true })
local a = g.attrs()
t.note("attributes: " .. a.text)
local w = require("vmlab.workload").new { target = s, pattern = "hotspot",
  hot = { offset = 16 * MiB, length = 64 * MiB // 10 // g.ps * g.ps }, hot_share = 1, op = "write" }
w:start()
local m = assert(damon.monitor { backend = "kernel", targets = { s }, sample = a.sample, aggr = a.aggr,
  update = a.update, min_regions = 10, max_regions = 1000 })
local oks, err = m:start()
t.ok(oks, "the kernel monitor starts" .. (oks and "" or ": " .. tostring(err)))
vmlab_snooze = require("vmlab").snooze
vmlab_snooze(a.settle)
local snap = m:snapshot()
m:stop()
w:close()
m:close()
local regs = snap and snap.targets[1].regions or {}
t.cmp_ok(#regs, ">", 0, "the snapshot has the kernel's regions (" .. #regs .. ")")
local sc = g.score(regs, s.addr + 16 * MiB, 64 * MiB // 10 // g.ps * g.ps, s.addr, s.size)
t.note(sc.text)
t.cmp_ok(sc.hot_cov, ">=", 0.9, "the hot 10% is found: " .. sc.text)
t.done_testing()
