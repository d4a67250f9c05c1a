-- Tracing segments in process: the exact reference string (interval 0),
-- interval mode (one event per page per interval, reads then writes), the
-- file finished by GC, and real faults still raising.
local tap = require "vmlab.tap"
local seg = require "vmlab.seg"
local trace = require "vmlab.trace"
local vmlab = require "vmlab"
local psz = vmlab.pagesize()
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)

local function events(path, s)
  local out = {}
  for e in trace.events(path) do out[#out + 1] = e.kind:sub(1, 1) .. (e.page - s.addr // psz) end
  return table.concat(out, " ")
end

local s <close> = seg.anon("tr", "16p")
s:touch { op = "write" }
local tr = trace.start { targets = { s }, interval = 0, window = 1, output = dir .. "/a.trace" }
tap.like(tostring(tr), "running", "a running tracer")
s:touch { op = "read", length = "3p" }
s:touch { op = "write", offset = "1p", length = "1p" }
s:touch { op = "read", length = "1p" }
local st = tr:stop()
tap.is(st.events, 6, "six events")
tap.is(events(dir .. "/a.trace", s), "r0 r1 r2 r1 w1 r0", "the exact reference string, read then write")
tap.ok(tr:stop(), "stop twice is fine")
local h = trace.header(dir .. "/a.trace")
tap.is(h.targets[1].name, "tr", "the segment is a target")
tap.is(h.targets[1].length, 16 * psz, "its length")

-- exact mode keeps each page a VMA of its own while it runs (every other
-- page MADV_DONTDUMP): the mapping is whole again and dumpable after stop
local function vmas(sg)
  local n, dd, inside = 0, false, false
  for line in io.lines("/proc/self/smaps") do
    local a, b = line:match("^(%x+)%-(%x+) ")
    if a then
      inside = tonumber(a, 16) < sg.addr + sg.size and tonumber(b, 16) > sg.addr
      if inside then n = n + 1 end
    elseif inside and line:match("^VmFlags:.* dd") then
      dd = true
    end
  end
  return n, dd
end
tr = trace.start { targets = { s }, interval = 0, window = 1, output = dir .. "/s.trace" }
local during = vmas(s)
tr:stop()
local after, dd = vmas(s)
tap.cmp_ok(during, ">=", 16, "while tracing: a VMA per page (" .. during .. ")")
tap.is(after, 1, "after stop: one mapping again")
tap.ok(not dd, "and no page left out of core dumps")

-- window 4: re-touching the last 4 pages costs nothing
tr = trace.start { targets = { s }, interval = 0, window = 4, output = dir .. "/b.trace" }
for _ = 1, 3 do s:touch { op = "read", length = "4p" } end
tap.is(tr:stop().events, 4, "window 4: four first touches, then hits")

-- interval mode: each page once per interval.  The interval is long
-- enough that the two passes fall in the first one: at 20 ms, a clean-clone
-- make test once saw the tracer revoke between them (5 events)
tr = trace.start { targets = { s }, interval = "500ms", output = dir .. "/c.trace" }
s:touch { op = "read", length = "2p" }
s:touch { op = "read", length = "2p" }
vmlab.snooze("550ms")
-- the tracer's thread revokes the two pages at the next interval; on a
-- loaded machine (ASan, other tests) it may not have run yet: wait until
-- /proc/self/maps shows them revoked (up to 10 s), then touch again
local function revoked()
  for _, e in ipairs(seg.maps()) do
    if e.start <= s.addr and e["end"] >= s.addr + 2 * psz then return e.perms:sub(1, 3) == "---" end
  end
  return false
end
local wait_until = vmlab.now() + 10
while not revoked() and vmlab.now() < wait_until do vmlab.snooze("10ms") end
s:touch { op = "read", length = "2p" }
local n = tr:stop().events
tap.is(n, 4, "two pages, two intervals: four events")

-- the file is finished when the tracer is collected
do
  local t2 = trace.start { targets = { s }, interval = 0, output = dir .. "/d.trace" }
  s:touch { op = "read", length = "2p" }
  t2 = nil
  collectgarbage(); collectgarbage()
end
tap.is(events(dir .. "/d.trace", s), "r0 r1", "collected: the file is complete")

-- a real fault is still an error
local ro <close> = seg.anon("ro", "2p")
ro:touch { op = "write" }
ro:protect("r")
tr = trace.start { targets = { ro }, interval = 0, output = dir .. "/e.trace" }
tap.ok(pcall(ro.touch, ro, { op = "read" }), "reads of a read-only segment are traced")
local ok, err = pcall(ro.touch, ro, { op = "write" })
tap.ok(not ok and tostring(err):match("SIGSEGV"), "a write to a read-only segment still raises")
tr:stop()

-- a file segment: its inode and file offset in the header
do
  local path = dir .. "/data"
  local f <close> = seg.file(path, { create = 8 * psz, offset = 2 * psz, length = 4 * psz })
  local t3 = trace.start { targets = { f }, interval = 0, output = dir .. "/g.trace" }
  f:touch { op = "read" }
  t3:stop()
  local ino = io.popen("stat -c %i " .. path):read("l")
  local hd = trace.header(dir .. "/g.trace")
  tap.is(hd.targets[1].inode, math.tointeger(tonumber(ino)), "the file's inode")
  tap.is(hd.targets[1].offset, 2 * psz, "the file offset")
  local evs = {}
  for e in trace.events(dir .. "/g.trace") do evs[#evs + 1] = e.target end
  tap.is(#evs, 4, "four pages read")
  tap.is(evs[1], 1, "events name their target")
end

tap.error_like(function() trace.start { targets = { s }, output = dir .. "/f", interval = "10us" } end, "at least 1ms", "too short an interval")
tap.error_like(function() trace.start { targets = { s } } end, "output", "output is required")
tap.error_like(function() trace.start { targets = { 1 }, output = "x" } end, "not an open segment", "a bad target")
tap.error_like(function() trace.start { targets = { s }, output = "x", windw = 2 } end, "did you mean 'window'", "unknown option")
os.execute("rm -rf " .. dir)
tap.done_testing()
