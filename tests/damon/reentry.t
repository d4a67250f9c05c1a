-- Callbacks that close or re-enter their monitor (docs/DESIGN.md, "the
-- callback rule"): inside any of a monitor's callbacks (on_aggregate, a
-- replay oracle, a scheme's Lua action) m:close() waits until the callback
-- returns, and methods that run the monitor (step, start, stop, stepping
-- snapshots) raise "monitor is busy".  A scheme's Lua action runs on the Lua
-- state that is running the monitor; its errors reach last_error and, by
-- its on_error option, the caller.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"
local vmlab = require "vmlab"

local base = 0x100000000
local function mon(oracle)
  return damon.monitor { targets = { { start = base, ["end"] = base + (64 << 20) } },
    oracle = oracle or function(addr) return addr < base + (8 << 20) end, seed = 3 }
end

-- close inside on_aggregate (stepped)
local m = mon()
local calls = 0
m:on_aggregate(function(_, mm) calls = calls + 1; mm:close() end)
t.lives_ok(function() m:step(20 * 5) end, "m:close() in on_aggregate during step")
t.is(calls, 1, "the callbacks stop with the close")
t.is(tostring(m), "damon monitor (closed)", "the monitor is closed after the callback")
t.error_like(function() m:step(1) end, "closed monitor", "and stays closed")

-- close inside on_aggregate (a thread samples; delivered while Lua waits)
local s = seg.anon("reentry", "8m")
s:touch("write")
local pm = damon.monitor { targets = { s }, sample = "1ms", aggr = "5ms", budget = 0.5 }
local pcalls = 0
pm:on_aggregate(function(_, mm) pcalls = pcalls + 1; mm:close() end)
pm:start()
local t0 = vmlab.now()
while pcalls == 0 and vmlab.now() - t0 < 10 do vmlab.snooze("10ms") end
t.is(pcalls, 1, "m:close() in on_aggregate while Lua snoozes")
t.is(tostring(pm), "damon monitor (closed)", "closed, its thread stopped")
t.is((s:touch("read")), 2048, "every page readable again")

-- close inside the oracle
local om
om = mon(function(addr)
  om:close()
  return true
end)
t.lives_ok(function() om:step(100) end, "m:close() inside the oracle")
t.is(tostring(om), "damon monitor (closed)", "closed when the step returned")

-- step inside the oracle and inside on_aggregate: busy
local rm
rm = mon(function() rm:step(1) end)
t.error_like(function() rm:step(5) end, "oracle failed: .*m:step: the monitor is busy", "m:step() in the oracle raises busy")
rm:close()
local am = mon()
am:on_aggregate(function(_, mm) mm:step(1) end)
t.error_like(function() am:step(20) end, "m:step: the monitor is busy", "m:step() in on_aggregate raises busy")
t.ok(am:stats(), "the monitor is still usable after")
am:close()
local sm = mon()
sm:on_aggregate(function(_, mm) mm:stop() end)
t.error_like(function() sm:step(20) end, "m:stop: the monitor is busy", "m:stop() in on_aggregate raises busy")
sm:close()
local im = mon()
im:on_aggregate(function(_, mm) for _ in mm:snapshots { count = 1 } do end end)
t.error_like(function() im:step(20) end, "m:snapshots: the monitor is busy", "stepping snapshots in on_aggregate raises busy")
im:close()

-- a scheme's Lua action: close the monitor, step it, close itself
local cm = mon()
local acts = 0
cm:scheme { action = function() acts = acts + 1; cm:close() return true end }
t.lives_ok(function() cm:step(20 * 3) end, "m:close() in a scheme's action")
t.is(acts, 1, "no action after the close")
t.is(tostring(cm), "damon monitor (closed)", "closed when the step returned")

local stm = mon()
local sc = stm:scheme { action = function() stm:step(1) return true end }
t.error_like(function() stm:step(20) end, "m:step: the monitor is busy", "m:step() in an action raises at the step (on_error raise)")
t.like(sc:stats().last_error, "m:step: the monitor is busy", "last_error says why")
t.is(sc:stats().nr_applied, 0, "nothing applied")
stm:close()

local selfm = mon()
local self_sc
local n = 0
self_sc = selfm:scheme { action = function() n = n + 1; self_sc:close() return true end }
t.lives_ok(function() selfm:step(20 * 3) end, "a scheme closing itself in its action")
t.is(n, 1, "and no action after")
t.error_like(function() self_sc:stats() end, "closed scheme", "the scheme is closed")
selfm:close()

-- errors and yields: last_error and on_error
local em = mon()
local ign = em:scheme { action = function() error("quiet") end, on_error = "ignore" }
t.lives_ok(function() em:step(20) end, "on_error = 'ignore' does not raise")
t.like(ign:stats().last_error, "quiet", "but last_error has the message")
ign:close()
local seen = {}
local fsc = em:scheme { action = function() error("seen") end, on_error = function(msg) seen[#seen + 1] = msg end }
em:step(20)
t.ok(#seen > 0 and seen[1]:find("seen"), "on_error = function gets the message (" .. tostring(seen[1]) .. ")")
fsc:close()
local ysc = em:scheme { action = function() coroutine.yield() end, on_error = "ignore" }
local co = coroutine.wrap(function() em:step(20) end)
t.lives_ok(co, "a yielding action inside a coroutine")
t.like(ysc:stats().last_error, "yield", "the yield is the action's error (" .. tostring(ysc:stats().last_error) .. ")")
ysc:close()
em:close()

-- the action runs on the state that runs the monitor, not where it attached
local cmon = mon()
local ran_on
coroutine.wrap(function()
  cmon:scheme { action = function() ran_on = coroutine.running() return false end }
end)()
collectgarbage()
local runner = coroutine.create(function() cmon:step(20) end)
assert(coroutine.resume(runner))
t.is(ran_on, runner, "the action ran on the coroutine that stepped the monitor")
cmon:step(20)
t.is(ran_on, (coroutine.running()), "and on the main thread when that steps it")
cmon:close()

-- a Lua action on a sampling thread cannot run: said, and raised at the next wait
local tm = damon.monitor { targets = { s }, sample = "1ms", aggr = "5ms", budget = 0.5 }
local tsc = tm:scheme { action = function() return true end }
tm:start()
t.error_like(function()
  local t1 = vmlab.now()
  while vmlab.now() - t1 < 10 do vmlab.snooze("10ms") end
end, "runs only while the monitor is stepped", "raised while Lua waits")
pcall(tm.stop, tm)   -- stops; may raise the next aggregation's error too
t.like(tsc:stats().last_error, "sampling thread", "last_error says where it could not run")
tm:close()
s:close()
t.done_testing()
