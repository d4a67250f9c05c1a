-- m:scheme(spec): schemes attach through the engine's hook API.  vmlab.damos
-- publishes its attach in the registry; neither module requires the other
-- at load (no cycle), damos.attach(m, spec) is the monitor's own method, and
-- the engine's capabilities decide what a scheme may do.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"

local base = 0x100000000
local function mon(extra)
  local o = { targets = { { start = base, ["end"] = base + (64 << 20) } },
    oracle = function(addr) return addr < base + (8 << 20) end, seed = 1 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return damon.monitor(o)
end

-- no require cycle: loading one module leaves the other unloaded
local function loaded_after(mod)
  local p = io.popen(vmlab_bin .. " -e 'require \"" .. mod .. "\" " ..
    "print(package.loaded[\"vmlab.damon\"] ~= nil, package.loaded[\"vmlab.damos\"] ~= nil)'")
  local out = p:read("a")
  p:close()
  return out
end
t.is(loaded_after("vmlab.damos"), "false\ttrue\n", "require 'vmlab.damos' does not load vmlab.damon")
t.is(loaded_after("vmlab.damon"), "true\tfalse\n", "require 'vmlab.damon' does not load vmlab.damos")

-- m:scheme loads vmlab.damos on first use
package.loaded["vmlab.damos"] = nil
local m = mon()
local s = m:scheme { action = "stat", freq = { 80, 100 } }
t.like(tostring(s), "^damos scheme %(stat, recorded%)$", "m:scheme loads vmlab.damos and attaches")
t.ok(package.loaded["vmlab.damos"], "vmlab.damos is loaded now")
t.is(m:step(20 * 3), 3, "the monitor steps with its scheme")
t.cmp_ok(s:stats().nr_tried, ">", 0, "the scheme ran at each aggregation (" .. s:stats().nr_tried .. " tried)")
local damos = require "vmlab.damos"
local s2 = damos.attach(m, { action = "stat" })
t.like(tostring(s2), "damos scheme", "damos.attach(m, spec) is m:scheme(spec)")
t.error_like(function() damos.attach({}, { action = "stat" }) end, "monitor expected", "damos.attach of a non-monitor raises")

-- a closed monitor leaves its schemes unusable, not dangling
m:close()
t.error_like(function() s:stats() end, "monitor is closed", "a scheme whose monitor closed raises")
s:close()
s2:close()

-- what a scheme may do comes from the backend's capabilities
local rm = mon()
local rec = rm:scheme { action = "pageout" }
t.like(tostring(rec), "recorded", "replay regions are not this process's memory: actions are recorded")
local forced = rm:scheme { action = "stat", apply = true }
t.like(tostring(forced), "applied", "apply=true overrides")
local wm = rm:scheme { action = "stat", wmarks = { interval = "100ms", high = 1000, mid = 1000, low = 0 } }
t.is(wm:stats().active, false, "a watermarked scheme starts inactive (as the kernel)")
wm:set_metric(500)
rm:step(20 * 2)
t.is(wm:stats().active, true, "and turns active at its first check")
rm:close()

-- the hook table is bounded, and says which limit was hit
local full = mon()
local got, err
for _ = 1, 17 do
  got, err = full:scheme { action = "stat" }
  if not got then break end
end
t.is(got, nil, "the 17th hook is refused")
t.like(err, "hook table is full", "naming the hook limit (" .. tostring(err) .. ")")
full:close()

-- misspelled keys, top level and nested
local sm = mon()
for _, case in ipairs {
  { { agee = { 1, 2 } }, "unknown option 'agee' %(did you mean 'age'%?%)" },
  { { quota = { sz = "1m", goals = {} } }, "unknown option 'goals'" },
  { { quota = { weights = { nr_accesess = 1 } } }, "unknown option 'nr_accesess'" },
  { { wmarks = { hihg = 1 } }, "unknown option 'hihg'" },
  { { filters = { { type = "addr", allwo = true } } }, "unknown option 'allwo'" },
  { { on_error = "shout" }, "invalid option 'shout'" },
  { { apply_interval = 1e300 }, "bad option 'apply_interval' %(.*too long" },
  { { quota = { ms = 1e300 } }, "bad option 'quota.ms'" },
  { { wmarks = { high = 5000 } }, "bad option 'high' %(5000 is out of range" },
  { { node = 1 << 40 }, "bad option 'node'" },
} do
  t.error_like(function() sm:scheme(case[1]) end, case[2], "m:scheme refuses " .. case[2]:gsub("%%", ""))
end
sm:close()
t.done_testing()
