-- migrate_hot / migrate_cold: move_pages to a node (replay, apply=true).
-- With one node the move is to where the pages are; a node that does not
-- exist fails, and the failure is reported in the stats.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"
local MiB = 1 << 20

local s = seg.anon("mig", "4m")
s:touch { op = "write", all = true }
local m = damon.monitor { targets = { { start = s.addr, ["end"] = s.addr + s.size } },
  oracle = function(a) return a < s.addr + 2 * MiB end, seed = 1 }
t.error_like(function() m:scheme { action = "migrate_hot" } end, "needs a target node", "migrate needs node=")
local hot = m:scheme { action = "migrate_hot", node = 0, freq = { 50, 100 }, apply = true }
local cold = m:scheme { action = "migrate_cold", node = 0, nr_accesses = { 0, 0 }, apply = true }
local nowhere = m:scheme { action = "migrate_cold", node = 4000, apply = true }
m:step(20 * 3)
local hs, cs, ns = hot:stats(), cold:stats(), nowhere:stats()
t.cmp_ok(hs.sz_applied, ">", 0, "migrate_hot moved hot regions to node 0 (" .. hs.sz_applied // 1024 .. " KiB)")
t.cmp_ok(cs.sz_applied, ">", 0, "migrate_cold moved cold regions (" .. cs.sz_applied // 1024 .. " KiB)")
t.is(hs.last_error, nil, "without error")
t.is(ns.sz_applied, 0, "no move to a node that does not exist")
t.ok(ns.last_error, "its error is reported (" .. tostring(ns.last_error) .. ")")
t.is((s:touch("read")), 1024, "every page still there")
m:close()
s:close()
t.done_testing()
