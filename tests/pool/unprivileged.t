-- What an ordinary user can do needs no root: the prot sampler, schemes,
-- pools and libvmmalloc.so, run for real as nobody.
local t = require "vmlab.tap"
t.requires { root = true, program = "setpriv" }
local function abs(p)
  if p:sub(1, 1) == "/" then return p end
  local h = io.popen("pwd"); local d = h:read("l"); h:close()
  return d .. "/" .. p
end
local vmlab = abs(os.getenv("VMLAB") or "build/vmlab")
local build = abs(os.getenv("VMLAB_BUILD") or "build")
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -m 1777 " .. dir)

local script = dir .. "/nobody.lua"
local f = assert(io.open(script, "w"))
f:write(([[
local vmlab = require "vmlab"
local seg, damon, pool = require "vmlab.seg", require "vmlab.damon", require "vmlab.pool"
print("uid " .. io.popen("id -u"):read("l"))
local p = assert(pool.create { dir = %q, size = "16m" })
local a = assert(p:alloc(1000))
p:write(a, "mine")
print("pool " .. p:read(a, 4) .. " " .. p:stats().live)
p:free(a)
p:close()
local s = seg.anon("u", "8m")
s:touch()
local m = damon.monitor { targets = { s }, sample = "1ms", aggr = "20ms", budget = 0.5 }
local sc = m:scheme { action = "cold", freq = { 0, 100 } }
m:start()
vmlab.snooze("300ms")
m:stop()
print("sampler " .. m:stats().samples .. " " .. m:stats().aggregations)
print("scheme " .. sc:stats().nr_applied .. " " .. tostring(sc:stats().last_error))
]]):format(dir))
f:close()
os.execute("chmod 0644 " .. script)

local function as_nobody(cmd)
  local p = io.popen(string.format("setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all sh -c %q 2>&1", cmd))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local out, ok = as_nobody(vmlab .. " " .. script)
if not out:match("^uid") then
  os.execute("rm -rf " .. dir)
  t.skip_all("cannot run vmlab as nobody here: " .. out:gsub("\n", " "))
end
t.ok(ok, "the scenario runs as nobody")
t.unlike(out, "^uid 0\n", "and really as somebody else (" .. (out:match("^uid (%d+)") or "?") .. ")")
t.like(out, "pool mine 1", "a pool of its own as nobody: alloc, write, read")
local samples, aggrs = out:match("sampler (%d+) (%d+)")
t.cmp_ok(tonumber(samples) or 0, ">", 5, "the prot sampler samples (" .. tostring(samples) .. ")")
t.cmp_ok(tonumber(aggrs) or 0, ">=", 1, "and aggregates (" .. tostring(aggrs) .. ")")
local applied, err = out:match("scheme (%d+) (%S+)")
t.cmp_ok(tonumber(applied) or 0, ">", 0, "a scheme's action (MADV_COLD) applies (" .. tostring(applied) .. ")")
t.is(err, "nil", "without errors")
if not t.ok(ok and samples, "nothing failed") then t.diag(out) end

local so = build .. "/libvmmalloc.so"
if io.open(so) then
  local o, k = as_nobody(("seq 20000 | VMMALLOC_POOL_DIR=%s VMMALLOC_POOL_SIZE=33554432 LD_PRELOAD=%s sort -rn | head -n 2"):format(dir, so))
  t.ok(k, "sort under libvmmalloc.so runs as nobody")
  t.is(o, "20000\n19999\n", "with the right output")
else
  t.skip("no libvmmalloc.so", 2)
end
os.execute("rm -rf " .. dir)
t.done_testing()
