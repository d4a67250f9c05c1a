-- damon.monitor{backend = "uffd"}: a command's memory in the engine, as any
-- other backend: snapshots saying which mode measured them, the uffd
-- counters in m:stats(), a record written by the engine's hook, the
-- command's end, and clear refusals.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local record = require "vmlab.record"
local vmlab = require "vmlab"

local u = dofile(arg[0]:match("^(.*/)") .. "uffdlib.lua")
local B, V = u.B, u.V
local victim = B .. "/tests/uffd/victim"
local tmp = os.tmpname()

local function maps_of(pid)
  local f = io.open("/proc/" .. pid .. "/maps")
  if not f then return nil end
  local v = {}
  for line in f:lines() do
    local a, b = line:match("^(%x+)-(%x+)")
    if not line:match("%[vsyscall%]") then v[#v + 1] = { tonumber(a, 16), tonumber(b, 16) } end
  end
  f:close()
  return v
end

for _, mode in ipairs { "rw", "write" } do
  local m, err = damon.monitor { backend = "uffd", mode = mode, sample = "1ms", aggr = "20ms", update = "100ms",
    budget = 1, record = tmp, format = "json", targets = { { command = { victim, "long", "1.5" } } } }
  t.ok(m, mode .. ": a monitor on a command (" .. tostring(err) .. ")")
  if not m then break end
  t.like(tostring(m), "uffd, 1 target", mode .. ": it says its backend")
  local st = m:stats()
  t.ok(st.pid > 0 and st.running, mode .. ": the command runs (pid " .. st.pid .. ")")
  t.is(st.mode, mode, mode .. ": stats say the mode")
  m:start()
  local snaps = {}
  for s in m:snapshots { count = 8 } do snaps[#snaps + 1] = s end
  t.is(#snaps, 8, mode .. ": 8 snapshots")
  local modes, inside, accessed = true, true, 0
  local maps = maps_of(st.pid)
  for _, s in ipairs(snaps) do
    modes = modes and s.mode == mode
    for _, r in ipairs(s.targets[1].regions) do
      accessed = accessed + r.nr_accesses
      -- evenly split pieces may fall in gaps: within the mapped span
      inside = inside and maps and r.start >= maps[1][1] and r["end"] <= maps[#maps][2]
    end
  end
  t.ok(modes, mode .. ": every snapshot says the mode that measured it")
  t.ok(maps and inside, mode .. ": every region lies within the command's address space")
  t.cmp_ok(accessed, ">", 0, mode .. ": accesses seen")
  st = m:stats()
  t.ok(st.armed > 100 and st.touched > 0, mode .. ": pages sampled (" .. st.armed .. " armed, " .. st.touched ..
    " touched)")
  t.type_ok(st.unmonitored_bytes, "number", mode .. ": unmonitored bytes reported")
  t.ok(mode == "write" or st.agent_cpu > 0, mode .. ": the agent's CPU counted (" .. st.agent_cpu .. " s)")
  t.cmp_ok(st.recorded, ">=", 8, mode .. ": the engine's record hook wrote every aggregation")
  local waited = 0
  while m:stats().running and waited < 10 do vmlab.snooze(0.05); waited = waited + 0.05 end
  st = m:stats()
  t.ok(not st.running and st.status == 0, mode .. ": the command ended, memory intact (status " ..
    tostring(st.status) .. ")")
  m:stop()
  m:close()
  local rec, rerr = record.read(tmp)
  t.ok(rec and #rec >= 8, mode .. ": the record reads back (" .. tostring(rec and #rec or rerr) .. " snapshots)")
end

-- closing the monitor ends the command it started: pages back first
do
  local m = assert(damon.monitor { backend = "uffd", targets = { { command = { "sleep", "30" } } } })
  m:start()
  local pid = m:stats().pid
  m:close()
  t.nok(io.open("/proc/" .. pid .. "/stat"), "closing the monitor ended (and reaped) its command")
end

-- refusals: misuse raises, a command that cannot run returns nil, message
t.error_like(function() damon.monitor { backend = "uffd", targets = { { comand = { "true" } } } } end,
  "unknown option 'comand' %(did you mean 'command'%?%)", "a misspelled target key raises")
t.error_like(function() damon.monitor { backend = "uffd", targets = { { command = {} } } } end,
  "non%-empty array", "an empty command raises")
t.error_like(function() damon.monitor { backend = "uffd", targets = { { command = { 1 } } } } end,
  "command%[1%] is not a string", "a non-string argument raises")
t.error_like(function() damon.monitor { backend = "uffd", targets = {} } end,
  "one target", "no target raises")
t.error_like(function() damon.monitor { backend = "uffd", mode = "read", targets = { { command = { "true" } } } } end,
  "invalid option 'read'", "a bad mode raises")
t.error_like(function() damon.monitor { backend = "replay", mode = "write", targets = { { start = 0, ["end"] = 4096 } } } end,
  "option 'mode' is the uffd backend's", "mode on another backend raises")
local m, err = damon.monitor { backend = "uffd", targets = { { command = { "/nonexistent/cmd" } } } }
t.ok(m == nil and err:match("exec%(/nonexistent/cmd%)"), "a missing command: nil, " .. tostring(err))
-- where userfaultfd is forbidden (a seccomp filter on vmlab and so on the
-- command): a clear refusal, not a hang
local script = os.tmpname()
local f = assert(io.open(script, "w"))
f:write('print(require("vmlab.damon").monitor{ backend = "uffd", targets = { { command = { "sleep", "5" } } } })\n')
f:close()
local p = io.popen(B .. "/tests/uffd/noufd " .. V .. " " .. script .. " 2>&1")
local out = p:read("a")
p:close()
os.remove(script)
t.like(out, "^nil\t.*cannot monitor sleep: .*seccomp", "a command that may not use userfaultfd: nil, the reason")
os.remove(tmp)
t.done_testing()
