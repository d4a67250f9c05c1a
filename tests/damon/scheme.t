-- m:scheme(spec): the registration point vmlab.damos plugs into.  A
-- stand-in vmlab.damos (package.preload) checks that the monitor hands it
-- itself and the spec, returns what attach returns, and that without
-- vmlab.damos the call says so.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"

local base = 0x100000000
local function mon()
  return damon.monitor { targets = { { start = base, ["end"] = base + (64 << 20) } },
    oracle = function(addr) return addr < base + (8 << 20) end, seed = 1 }
end

local real = package.preload["vmlab.damos"]
if not real then
  package.loaded["vmlab.damos"] = nil
  local m = mon()
  t.error_like(function() m:scheme { action = "stat" } end, "vmlab.damos", "without vmlab.damos, m:scheme says why")
  m:close()
end

local got = {}
package.loaded["vmlab.damos"] = {
  attach = function(m, spec)
    got[#got + 1] = { m = m, spec = spec }
    return { name = "scheme" .. #got }, "extra"
  end,
}
local m = mon()
local spec = { action = "pageout", age = { 5, math.huge } }
local s, extra = m:scheme(spec)
t.is(#got, 1, "attach called once")
t.is(got[1].m, m, "attach gets the monitor")
t.is(got[1].spec, spec, "attach gets the spec")
t.is(s.name, "scheme1", "m:scheme returns attach's result")
t.is(extra, "extra", "and all of them")
t.is(m:step(20), 1, "the monitor still steps")
m:close()

package.loaded["vmlab.damos"] = { }
m = mon()
t.error_like(function() m:scheme {} end, "no attach", "a vmlab.damos without attach is reported")
m:close()
package.loaded["vmlab.damos"] = nil
t.done_testing()
