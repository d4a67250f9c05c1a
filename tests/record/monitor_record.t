-- A recording monitor writes every aggregation in C, whether or not Lua
-- reads snapshots, and the file is finished (readable) however the run
-- ends: stop, close, garbage collection, normal exit, error(), SIGINT,
-- os.exit.  Bad record paths are refused at creation with the real errno.
local t = require "vmlab.tap"
local rec = require "vmlab.record"
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"
local vmlab = require "vmlab"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"

local base = 0x100000000
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)

local function replay(path, format)
  return damon.monitor { targets = { { start = base, ["end"] = base + (64 << 20) } },
    oracle = { { start = base, ["end"] = base + (4 << 20) } }, record = path, format = format }
end

-- bad paths: refused at creation, with the errno of the failing call
local function refused(path, errno, what)
  local m, msg, e = replay(path, "json")
  t.is(m, nil, what .. ": refused at creation")
  t.is(e, errno, what .. ": errno " .. tostring(e) .. " (" .. tostring(msg) .. ")")
  t.like(msg, path:gsub("%p", "%%%0"), what .. ": the message names the path")
end
refused(dir, 21, "a directory")
refused(dir .. "/missing/rec.json", 2, "a missing directory")
local full = io.open("/dev/full", "w")
if full then
  full:close()
  refused("/dev/full", 28, "/dev/full")
else
  t.skip("no /dev/full here", 3)
end
os.execute("mkfifo " .. dir .. "/fifo")
refused(dir .. "/fifo", 6, "a FIFO nobody reads (no hang)")
t.error_like(function() replay(5) end, "bad option 'record' %(a file path string expected, got number%)",
  "record=5 raises")
t.error_like(function() replay(dir .. "/x", "yaml") end, "bad option 'format'", "an unknown format raises")

-- every format, stepped: the file is complete at stop
for _, f in ipairs { "json_compressed", "json", "record" } do
  local path = dir .. "/step." .. f
  local m = replay(path, f)
  m:step(20 * 5)
  t.is(m:stats().recorded, 5, f .. ": five aggregations written as they happened")
  t.ok(m:stop(), f .. ": stop finishes the record")
  local back, info = rec.read(path)
  t.is(back and #back, 5, f .. ": all five read back")
  if f ~= "record" then
    t.is(info.intervals.sample, 0.005, f .. ": the intervals as they ran (virtual time: as asked)")
  end
  m:close()
end

-- ended without stop: by close, by the collector, by the end of the script,
-- by error(), by os.exit, by SIGINT
local function child(code, path, signal)
  local script = dir .. "/child.lua"
  local f = assert(io.open(script, "w"))
  f:write(string.format([[
local damon = require "vmlab.damon"
local vmlab = require "vmlab"
local base = 0x100000000
m = damon.monitor { targets = { { start = base, ["end"] = base + (64 << 20) } },
  oracle = { { start = base, ["end"] = base + (4 << 20) } }, record = %q, format = "json_compressed" }
m:step(20 * 3)
io.open(%q, "w"):close()   -- ready: the parent may interrupt now
%s
]], path, path .. ".ready", code))
  f:close()
  if signal then
    local pidfile = dir .. "/pid"
    os.execute(string.format("(%s %s >/dev/null 2>&1 & echo $! > %s; wait) &", vmlab_bin, script, pidfile))
    local t0 = vmlab.now()
    local pid
    while not pid and vmlab.now() - t0 < 10 do
      vmlab.snooze("50ms")
      local pf = io.open(pidfile)
      if pf then pid = tonumber(pf:read("a")); pf:close() end
    end
    local t2 = vmlab.now()
    while not io.open(path .. ".ready") and vmlab.now() - t2 < 20 do vmlab.snooze("20ms") end
    vmlab.snooze("100ms")   -- into its wait
    os.execute("kill -" .. signal .. " " .. tostring(pid))
    local t1 = vmlab.now()
    while vmlab.now() - t1 < 10 do
      if not os.execute("kill -0 " .. tostring(pid) .. " 2>/dev/null") then break end
      vmlab.snooze("50ms")
    end
    os.remove(pidfile)
  else
    os.execute(vmlab_bin .. " " .. script .. " >/dev/null 2>&1")
  end
end
for _, case in ipairs {
  { "m:close()", "close" },
  { "m = nil collectgarbage() collectgarbage()", "collected" },
  { "", "the script ends" },
  { "error('boom')", "error()" },
  { "os.exit(3)", "os.exit" },
  { "vmlab.snooze(30)", "SIGINT", "INT" },
} do
  local path = dir .. "/end." .. case[2]:gsub("%W", "")
  child(case[1], path, case[3])
  local back, err = rec.read(path)
  t.is(back and #back, 3, "finished when " .. case[2] .. (back and "" or (": " .. tostring(err))))
end

-- no reader: 1 ms aggregations on a thread for 10 s while Lua never looks
-- (the 1024-deep snapshot queue overflows; the record misses nothing)
local s = seg.anon("rec", "8m")
s:touch("write")
local path = dir .. "/noreader.json"
local m = damon.monitor { targets = { s }, sample = "500us", aggr = "1ms", budget = 0.5, record = path,
  format = "json" }
t.ok(m:start(), "a recording prot monitor started")
os.execute("sleep 10")        -- Lua blocked in C: nobody drains the queue
local st = m:stats()
t.ok(m:stop(), "stopped")
st = m:stats()
local back = rec.read(path)
t.cmp_ok(st.aggregations, ">", 1024, "more aggregations than the queue holds (" .. st.aggregations .. ")")
t.cmp_ok(st.dropped, ">", 0, "the snapshot queue dropped some (" .. st.dropped .. ")")
t.is(back and #back, st.aggregations, "every aggregation is in the file")
t.is(st.recorded, nil, "the record is finished (no longer counting)")
m:close()
s:close()

-- the intervals as they ran: a budget the sampler cannot keep stretches
-- the sample interval; stats, snapshots and the record say so, and the
-- monitor says it once on stderr
local script = dir .. "/stretch.lua"
local f = assert(io.open(script, "w"))
f:write(string.format([[
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"
local vmlab = require "vmlab"
local s = seg.anon("big", "128m")
s:touch("write")
local m = damon.monitor { targets = { s }, sample = "5ms", aggr = "100ms", budget = 0.0002,
  record = %q, format = "json" }
local last
m:on_aggregate(function(snap) last = snap end)
m:start()
local t0 = vmlab.now()
while m:stats().aggregations < 4 and vmlab.now() - t0 < 30 do vmlab.snooze("50ms") end
m:stop()
local st = m:stats()
print("overall", st.overall.sample, "requested", st.requested.sample)
print("snapshot", last and last.intervals.sample or -1, last and last.intervals.aggr or -1)
m:close()
]], dir .. "/stretch.json"))
f:close()
local p = io.popen(vmlab_bin .. " " .. script .. " 2>&1")
local out = p:read("a")
p:close()
local overall = tonumber(out:match("overall%s+(%S+)"))
local snap_sample, snap_aggr = out:match("snapshot%s+(%S+)%s+(%S+)")
t.ok(overall and overall > 0.006, "stats: the sample interval as it ran (" .. tostring(overall) .. " s, asked 5 ms)")
t.ok(tonumber(snap_sample) and tonumber(snap_sample) > 0.006, "snapshots carry it (" .. tostring(snap_sample) .. ")")
local _, info = rec.read(dir .. "/stretch.json")
t.ok(info and math.abs(info.intervals.sample - overall) < 1e-6,
  "the record carries it (" .. tostring(info and info.intervals.sample) .. ")")
local _, notes = out:gsub("stretches the sample interval", "")
t.is(notes, 1, "the monitor says so once")
os.execute("rm -rf " .. dir)
t.done_testing()
