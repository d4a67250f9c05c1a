-- The time quota from Lua (replay backend: windows in virtual time, exact):
-- ms of action time per reset interval, turned into a size at each window
-- start by the action's measured throughput.  The scripted action spins
-- at least 1 ms per MiB, so the measured throughput is at most 1 MiB/ms
-- (a loaded machine only makes it slower) and a window allows at most
-- ms MiB once something was measured; before that, the kernel's default
-- of 4 MiB per ms.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local vmlab = require "vmlab"
local MiB = 1 << 20
local base, size = 0x100000000, 64 * MiB

local m = damon.monitor { targets = { { start = base, ["end"] = base + size } },
  oracle = function(addr) return addr < base + 8 * MiB end, seed = 3 }
local function busy(r)
  local stop = vmlab.now() + (r["end"] - r.start) / MiB * 1e-3
  while vmlab.now() < stop do end
  return true
end
local ms = 2
local q = m:scheme { action = busy, nr_accesses = { 0, 0 }, quota = { ms = ms, reset_interval = "1s" } }
-- per window (10 aggregations of 100 ms, the first starting at the first
-- pass): bytes applied and the effective size the engine used
local applied, esz = {}, {}
local last = 0
for w = 1, 5 do
  for _ = 1, 10 do
    m:step(20)
    esz[w] = esz[w] or q:stats().quota_esz
  end
  local now = q:stats().sz_applied
  applied[w], last = now - last, now
  t.note(string.format("window %d: esz %d KiB, applied %d KiB", w, (esz[w] or 0) // 1024, applied[w] // 1024))
end
t.is(esz[1], 4 * MiB * ms, "window 1: nothing measured, esz = 4 MiB/ms x " .. ms .. " ms")
t.is(applied[1], esz[1], "the time quota binds: exactly esz applied of 56 MiB cold")
local over, under = 0, math.huge
for w = 2, 5 do
  over = math.max(over, applied[w] - esz[w])
  under = math.min(under, applied[w])
end
t.is(over, 0, "no window applies more than its esz")
local hi = 0
for w = 2, 5 do hi = math.max(hi, esz[w]) end
t.cmp_ok(hi, "<=", ms * MiB, "measured <= 1 MiB/ms: esz <= " .. ms .. " MiB (" .. hi // 1024 .. " KiB)")
t.cmp_ok(under, ">", 0, "and every window, reset, applies again")
t.cmp_ok(q:stats().qt_exceeds, ">=", 4, "qt_exceeds counts the windows used up")
q:close()

-- a time string works, and the smaller of sz and ms wins
local q2 = m:scheme { action = "stat", nr_accesses = { 0, 0 }, quota = { ms = "5ms", sz = "1m" } }
m:step(20)
t.is(q2:stats().quota_esz, MiB, "ms = '5ms' with sz = 1 MiB: esz 1 MiB")
t.is(q2:stats().sz_applied, MiB, "and 1 MiB applied")
q2:close()
t.error_like(function() m:scheme { action = "stat", quota = { ms = -1 } } end, "negative", "a negative ms raises")
m:close()
t.done_testing()
