-- Exact mode with and without the protection-key cache: the same touches
-- give the same events (and the ones a model of the window predicts), in
-- a child with VMLAB_TRACE_PKEYS=0 and in one without; while the cache is
-- in use pages carry keys, after stop none does; s:protect while traced.
local tap = require "vmlab.tap"
local seg = require "vmlab.seg"
local trace = require "vmlab.trace"
local vmlab = require "vmlab"
local psz = vmlab.pagesize()
local exe = os.getenv("VMLAB") or "build/vmlab"
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)

-- the touches: mostly 5 hot pages, some others, a quarter writes
local function touches(seed, n)
  local out, x = {}, seed
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    local pg = (x >> 8) % 10 < 7 and (x >> 12) % 5 or (x >> 12) % 20
    out[i] = { pg = pg, write = (x >> 20) % 4 == 0 }
  end
  return out
end

local function model(seq, window)
  local st, win, ev = {}, {}, {}
  for _, t in ipairs(seq) do
    if not st[t.pg] then
      ev[#ev + 1] = "r" .. t.pg
      st[t.pg] = "r"
      win[#win + 1] = t.pg
      if #win > window then st[table.remove(win, 1)] = nil end
    end
    if t.write and st[t.pg] == "r" then
      ev[#ev + 1] = "w" .. t.pg
      st[t.pg] = "w"
    end
  end
  return table.concat(ev, " ")
end

-- the child: traces the touches, prints the events
local script = dir .. "/child.lua"
local f = assert(io.open(script, "w"))
f:write([[
local seg, trace, vmlab = require "vmlab.seg", require "vmlab.trace", require "vmlab"
local psz = vmlab.pagesize()
local window, out, seed, n = tonumber(arg[1]), arg[2], tonumber(arg[3]), tonumber(arg[4])
local s <close> = seg.anon("pk", "20p")
s:touch { op = "write" }
local tr = trace.start { targets = { s }, interval = 0, window = window, output = out }
local x = seed
for _ = 1, n do
  x = (x * 1103515245 + 12345) % 2147483648
  local pg = (x >> 8) % 10 < 7 and (x >> 12) % 5 or (x >> 12) % 20
  s:touch { op = (x >> 20) % 4 == 0 and "write" or "read", offset = pg * psz, length = psz }
end
tr:stop()
local ev = {}
for e in trace.events(out) do ev[#ev + 1] = e.kind:sub(1, 1) .. (e.page - s.addr // psz) end
io.write(table.concat(ev, " "))
]])
f:close()

local function child(env, window, seed, n)
  local p = assert(io.popen(string.format("%s %s %s %d %s/%d.trace %d %d", env, exe, script, window, dir, window,
    seed, n)))
  local s = p:read("a")
  p:close()
  return s
end

for _, window in ipairs { 1, 3 } do
  local want = model(touches(11 + window, 600), window)
  local keyed = child("", window, 11 + window, 600)
  local plain = child("VMLAB_TRACE_PKEYS=0", window, 11 + window, 600)
  tap.is(keyed, want, "window " .. window .. ": the events the model predicts")
  tap.is(plain, keyed, "  VMLAB_TRACE_PKEYS=0 (the mprotect path): the same events")
end

-- the key cache in use: pages carry keys while tracing, none after stop
local function keys_on(sg)
  local n, inside = 0, false
  for line in io.lines("/proc/self/smaps") do
    local a, b = line:match("^(%x+)%-(%x+) ")
    if a then
      inside = tonumber(a, 16) < sg.addr + sg.size and tonumber(b, 16) > sg.addr
    elseif inside then
      local k = line:match("^ProtectionKey:%s+(%d+)")
      if k and k ~= "0" then n = n + 1 end
    end
  end
  return n
end
local pku = io.open("/proc/cpuinfo"):read("a"):match(" pku ") and io.open("/proc/self/smaps"):read("a"):match("ProtectionKey")
local s <close> = seg.anon("pk", "8p")
s:touch { op = "write" }
local tr = trace.start { targets = { s }, interval = 0, window = 2, output = dir .. "/k.trace" }
for _ = 1, 3 do s:touch { op = "read", length = "4p" } end
local during = keys_on(s)
tr:stop()
if pku then
  tap.cmp_ok(during, ">=", 4, "with PKU: the four pages touched hold keys while traced (" .. during .. ")")
else
  tap.skip("no PKU here: the key cache is not used")
end
tap.is(keys_on(s), 0, "after stop: no page holds a key")

-- s:protect while traced: the new protection is the user's
tr = trace.start { targets = { s }, interval = 0, window = 2, output = dir .. "/p.trace" }
s:touch { op = "write", length = "2p" }
s:protect("r", { offset = 0, length = psz })
tap.ok(pcall(s.touch, s, { op = "read", length = "1p" }), "a page made read-only while traced: reads traced")
local ok, err = pcall(s.touch, s, { op = "write", length = "1p" })
tap.ok(not ok and tostring(err):match("SIGSEGV"), "  a write raises")
local st = tr:stop()
tap.is(st.events, 5, "  r0 w0 r1 w1, then r0 again")
tap.is(seg.maps and (function()
  for _, e in ipairs(seg.maps()) do
    if e.start <= s.addr and e["end"] > s.addr then return e.perms:sub(1, 3) end
  end
end)(), "r--", "  after stop: the page stays read-only")
os.execute("rm -rf " .. dir)
tap.done_testing()
