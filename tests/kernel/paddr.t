-- In the guest: kernel DAMON on physical memory (paddr) through
-- vmlab.damon.kdamond, with a stat scheme whose tried regions cover the
-- monitored RAM, and a quota-limited, watermark-gated, filtered scheme
-- whose settings read back as written.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local vmlab = require "vmlab"
local kdamond = require "vmlab.damon.kdamond"
local g = dofile(arg[0]:match("^(.*/)") .. "kguest.lua")
local ok, why = damon.kernel_available()
if not ok then t.skip_all("kernel DAMON: " .. why) end
local a = g.attrs()
local kd, err = kdamond.start { ops = "paddr", sample = a.sample, aggr = a.aggr, update = a.update,
  schemes = { { action = "stat" },
    { action = "pageout", nr_accesses = { max = 0 }, age = { min = 1000000 }, sz = { min = "4k" },
      quota = { ms = 10, bytes = "8m", reset_interval = "1s", weights = { sz = 0, nr_accesses = 1, age = 1 } },
      watermarks = { metric = "free_mem_rate", interval = "1s", high = 999, mid = 998, low = 1 },
      filters = { { type = "anon", matching = false } } } } }
t.ok(kd, "a paddr kdamond starts" .. (kd and "" or ": " .. tostring(err)))
if not kd then t.done_testing(); return end
vmlab.snooze(4 * a.aggr_s)
local st = kd:scheme(1)
local total = 0
for _, r in ipairs(st.tried_regions or {}) do total = total + (r["end"] - r.start) end
t.cmp_ok(#(st.tried_regions or {}), ">", 0, "the stat scheme's tried regions are not empty")
t.cmp_ok(total, ">=", 64 * 1024 * 1024, "they cover RAM (" .. total // 1048576 .. " MiB)")
t.is(st.tried_regions and st.tried_regions.total_bytes, total, "total_bytes agrees")
local po = kd:scheme(2, { update = false })
t.is_deeply(po.quotas.weights, { sz_permil = 0, nr_accesses_permil = 1, age_permil = 1 }, "quota weights")
t.is(po.quotas.bytes, 8 * 1024 * 1024, "quota bytes")
t.is(po.quotas.reset_interval_ms, 1000, "quota reset interval")
t.is_deeply(po.watermarks, { metric = "free_mem_rate", interval_us = 1000000, high = 999, mid = 998, low = 1 },
  "watermarks")
t.is(po.filters[1] and po.filters[1].type, "anon", "the filter")
t.is(po.filters[1] and po.filters[1].matching, false, "not matching")
t.is(po.access_pattern.sz.min, 4096, "sizes take units")
local ks = require("vmlab.damon.status").kernel_status()
local tg = ks and ks.kdamonds[1].contexts[1].targets[1]
t.ok(tg and tg.pid == nil, "kernel_status: a paddr target has no pid")
t.is(ks and ks.kdamonds[1].contexts[1].operations, "paddr", "and ops paddr")
kd:close()
t.done_testing()
