-- prcl: the seed's proactive reclamation, "If a region >4KB shows <5%
-- access rate for >5 seconds, page out", on a 64 MiB file-backed segment
-- (file pages: no swap needed) of which a workload keeps 8 MiB hot.  The
-- seed's 5 s is scaled to 500 ms here so that the example runs in about
-- two seconds; the rule is parsed from the seed's own text.
local damon = require "vmlab.damon"
local damos = require "vmlab.damos"
local seg = require "vmlab.seg"
local wl = require "vmlab.workload"
local vmlab = require "vmlab"
local MiB = 1 << 20

local rules = assert(damos.parse [[
# prcl: If a region >4KB shows <5% access rate for >5 seconds, page out.
4K null    null 5    500ms null      pageout
]])
local path = os.tmpname()
local s = assert(seg.file(path, { name = "prcl", create = "64m" }))
os.remove(path)
s:advise("random")                 -- no read-around refilling what was paged out
s:touch("read")
local w = wl.new { target = s, pattern = "hotspot", hot = { offset = "16m", length = "8m" }, hot_share = 1, op = "read" }
local m = damon.monitor { targets = { s }, sample = "5ms", aggr = "50ms", budget = 0.3, min_regions = 32, seed = 1 }
local before = s:resident()
local sc = m:scheme(rules[1])
w:start()
m:start()
local t0 = vmlab.now()
vmlab.snooze("1.5s")
m:stop()
local after, total = s:resident()
local hot_res, hot_total = s:resident { offset = "16m", length = "8m" }
w:close()
local st = sc:stats()
print(string.format("prcl rule: %s", rules[1].text))
print(string.format("resident: %d MiB -> %d MiB of %d MiB (saved %d MiB) in %.1f s",
  before * 4096 // MiB, after * 4096 // MiB, total * 4096 // MiB, (before - after) * 4096 // MiB, vmlab.now() - t0))
print(string.format("hot 8 MiB still resident: %.0f %%", 100 * hot_res / hot_total))
print(string.format("scheme: tried %d regions (%d MiB), applied %d MiB", st.nr_tried, st.sz_tried // MiB, st.sz_applied // MiB))
sc:close()
m:close()
s:close()
