-- Where the uffd backend's overhead goes (a helper of tests/bench/uffd, no
-- verdict): the hotspot under damon.monitor{backend = "uffd"}, the monitor
-- stopped and started every second as in the bench, and per phase the
-- utime/stime ticks, minor faults and context switches of the hotspot's
-- main thread and of the agent's thread (/proc/PID/task/TID/stat, status).
-- Prints the bench's ratio (pages per CPU second of the process), the
-- ratio per CPU second of the main thread alone (without the agent's CPU),
-- the wall-clock ratio and the monitor's counters; ratios as the bench
-- takes them: each monitored phase against the unmonitored ones on both
-- sides of it, the median over the phases.
--   VMLAB_BUILD=build build/vmlab tests/bench/uffd_costs.lua
-- Environment: MODE (rw|write), BUDGET (0.05), SAMPLE (seconds, 0.005),
-- PHASES (41), PLEN (phase seconds, 0.5), HOTSPOT (another hotspot
-- binary), NULL=1 (on-phases leave the monitor off: the noise of the
-- method on this machine).
local damon = require "vmlab.damon"
local vmlab = require "vmlab"
local B = os.getenv("VMLAB_BUILD") or "build"
local hotspot = os.getenv("HOTSPOT") or (B .. "/tests/uffd/hotspot")
local mode = os.getenv("MODE") or "rw"
local write = mode == "write"
local nph = tonumber(os.getenv("PHASES") or "41")
local plen = tonumber(os.getenv("PLEN") or "0.5")
local budget = tonumber(os.getenv("BUDGET") or "0.05")
local function median(t) local c = {} for i, v in ipairs(t) do c[i] = v end table.sort(c); return c[(#c + 1) // 2] end
local out = os.tmpname()
local pidf = os.tmpname()
local m = assert(damon.monitor { backend = "uffd", mode = mode, budget = budget, sample = tonumber(os.getenv("SAMPLE") or "0.005"), targets = { { command = { "sh", "-c",
  "echo $$ > " .. pidf .. "; exec " .. hotspot .. " --seconds " .. (nph * plen + 30) .. " --size 256 --hot 32 --report 0.02" .. (write and " --write" or "") ..
  " > " .. out } } } })
local function lines()
  local f = io.open(out); local t = {}
  if f then for l in f:lines() do
    local tt, c, w, th = l:match("^rate (%S+) (%d+) (%d+) (%d+)")
    if tt then t[#t + 1] = { t = tonumber(tt), cpu = tonumber(c), wall = tonumber(w), th = tonumber(th) } end
  end f:close() end
  return t
end
for _ = 1, 300 do if #lines() > 0 then break end vmlab.snooze(0.1) end
local pid = tonumber(io.open(pidf):read("a"))
local function threads()
  local r = {}
  local p = io.popen("ls /proc/" .. pid .. "/task")
  for tid in p:lines() do
    local f = io.open("/proc/" .. pid .. "/task/" .. tid .. "/stat")
    if f then
      local s = f:read("a"); f:close()
      local rest = s:match("%) (.*)")
      local fl = {}
      for w in rest:gmatch("%S+") do fl[#fl + 1] = w end
      -- fields after ')' start at field 3: utime=14 -> idx 12, stime=15 -> 13, minflt=10 -> 8
      r[tonumber(tid)] = { ut = tonumber(fl[12]), st = tonumber(fl[13]), minflt = tonumber(fl[8]) }
      local f2 = io.open("/proc/" .. pid .. "/task/" .. tid .. "/status")
      if f2 then local s2 = f2:read("a"); f2:close()
        r[tonumber(tid)].vcs = tonumber(s2:match("voluntary_ctxt_switches:%s+(%d+)"))
        r[tonumber(tid)].ncs = tonumber(s2:match("nonvoluntary_ctxt_switches:%s+(%d+)")) end
    end
  end
  p:close()
  return r
end
local acc = { on = {}, off = {} }
local ph = {}
local s_prev = 0
for k = 1, nph do
  local on = k % 2 == 0
  if on and not os.getenv("NULL") then assert(m:start()) else m:stop() end
  local t0 = vmlab.now()
  local a = threads()
  vmlab.snooze(plen)
  local b = threads()
  local dt = vmlab.now() - t0
  local side = on and acc.on or acc.off
  for tid, x in pairs(b) do
    local y = a[tid]
    if y then
      local key = tid == pid and "main" or "agent"
      side[key] = side[key] or { ut = 0, st = 0, minflt = 0, vcs = 0, ncs = 0, t = 0 }
      local z = side[key]
      z.ut = z.ut + x.ut - y.ut; z.st = z.st + x.st - y.st; z.minflt = z.minflt + x.minflt - y.minflt
      z.vcs = z.vcs + x.vcs - y.vcs; z.ncs = z.ncs + x.ncs - y.ncs; z.t = z.t + dt
    end
  end
  ph[#ph + 1] = { from = t0 + 0.1, to = vmlab.now(), on = on, pages = 0, cpu = 0, wall = 0, th = 0 }
end
m:stop()
local st = m:stats()
m:close()
local rates = lines()
os.remove(out); os.remove(pidf)
for i = 2, #rates do
  local lo, hi = rates[i - 1].t, rates[i].t
  local pages = rates[i].wall * (hi - lo)
  for _, p in ipairs(ph) do
    if lo >= p.from and hi <= p.to and rates[i].cpu > 0 and rates[i].th > 0 then
      p.pages, p.cpu, p.wall, p.th = p.pages + pages, p.cpu + pages / rates[i].cpu, p.wall + (hi - lo),
        p.th + pages / rates[i].th
    end
  end
end
local function ratio(key)   -- median over the monitored phases of the rate against its neighbours'
  local t = {}
  for k = 2, #ph - 1, 2 do
    local a, p, b = ph[k - 1], ph[k], ph[k + 1]
    if a[key] > 0 and p[key] > 0 and b[key] > 0 then
      t[#t + 1] = (p.pages / p[key]) / ((a.pages / a[key] + b.pages / b[key]) / 2)
    end
  end
  return #t > 0 and median(t) or 0
end
local rcpu, rwall, rth = ratio("cpu"), ratio("wall"), ratio("th")
io.write(string.format("%s cpu %.1f%% thread %.1f%% wall %.1f%% samples %d armed %d touched %d huge %d agent %.3f lost %.3f sys %.3f mon %.3f\n",
  mode, rcpu * 100, rth * 100, rwall * 100, st.samples or 0, st.armed or 0, st.touched or 0, st.huge or 0, st.agent_cpu or 0,
  st.target_lost or 0, st.target_sys or 0, st.cpu_seconds or 0))
for _, side in ipairs { "off", "on" } do
  for _, key in ipairs { "main", "agent" } do
    local z = acc[side][key]
    if z then io.write(string.format("  %-3s %-5s ut %4d st %4d ticks over %.1fs minflt %6d vcs %6d ncs %6d\n", side, key,
      z.ut, z.st, z.t, z.minflt, z.vcs, z.ncs)) end
  end
end
