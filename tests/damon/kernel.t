-- The kernel backend against a model of /sys/kernel/mm/damon/admin (the
-- machines here either lack DAMON or run a kdamond vmlab must not touch):
-- what vmlab writes to start, read and stop its kdamond, and that it
-- leaves a kdamond it did not start alone.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"

-- the real machine: refused with the reason, or available
local ok, why = damon.kernel_available()
local km, kmsg = damon.monitor { backend = "kernel" }
if ok then
  t.ok(km, "the kernel backend is available here")
  if km then km:close() end
else
  t.is(km, nil, "the kernel backend is refused here: " .. why)
  t.like(kmsg, "kernel backend", "and says why")
end

-- as nobody: the real reason (permission), not "no DAMON"
local sysfs = "/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds"
local probe = io.open(sysfs)
if probe then probe:close() end
local root = os.execute("test $(id -u) -eq 0")
if not probe or not root or not os.execute("command -v setpriv >/dev/null 2>&1") then
  t.skip("needs root, setpriv and DAMON's sysfs to drop to nobody", 3)
else
  local p = io.popen("setpriv --reuid=nobody --regid=nogroup --clear-groups " .. vmlab_bin ..
    " -e 'local d = require \"vmlab.damon\" print(d.kernel_available()) " ..
    "local m, msg, e = d.monitor { backend = \"kernel\" } print(m, msg, e)' 2>&1")
  local out = p:read("a")
  p:close()
  t.like(out, "^false\t[^\n]*Permission denied", "as nobody, kernel_available() says permission denied")
  t.unlike(out, "no DAMON sysfs interface", "not that DAMON is missing")
  t.like(out, "\nnil\tdamon.monitor%(kernel backend%):[^\n]*Permission denied[^\n]*\t13", "the monitor is refused with EACCES")
end

local fs = dofile(arg[0]:match("^(.*/)") .. "sysfs_model.lua")
local dir, mk, cat = fs.dir, fs.mk, fs.cat
local ctx = "kdamonds/0/contexts/0/"
local function model(nr_kdamonds, state)
  os.execute("rm -rf '" .. dir .. "'")
  mk("kdamonds/nr_kdamonds", nr_kdamonds)
  mk("kdamonds/0/state", state)
  mk("kdamonds/0/contexts/nr_contexts", "0")
  mk(ctx .. "avail_operations", "vaddr fvaddr paddr")
  mk(ctx .. "operations", "")
  for _, f in ipairs { "sample_us", "aggr_us", "update_us" } do mk(ctx .. "monitoring_attrs/intervals/" .. f, "0") end
  mk(ctx .. "monitoring_attrs/nr_regions/min", "0")
  mk(ctx .. "monitoring_attrs/nr_regions/max", "0")
  mk(ctx .. "targets/nr_targets", "0")
  mk(ctx .. "targets/0/pid_target", "0")
  mk(ctx .. "targets/0/regions/nr_regions", "0")
  mk(ctx .. "targets/0/regions/0/start", "0")
  mk(ctx .. "targets/0/regions/0/end", "0")
  mk(ctx .. "schemes/nr_schemes", "0")
  mk(ctx .. "schemes/0/action", "")
  for _, f in ipairs { "sz", "nr_accesses", "age" } do
    mk(ctx .. "schemes/0/access_pattern/" .. f .. "/min", "0")
    mk(ctx .. "schemes/0/access_pattern/" .. f .. "/max", "0")
  end
  -- what the kernel would report for the stat scheme
  local regions = { { 4096, 65536, 7, 3 }, { 65536, 1048576, 0, 12 } }
  for i, r in ipairs(regions) do
    local p = ctx .. "schemes/0/tried_regions/" .. (i - 1) .. "/"
    mk(p .. "start", r[1]); mk(p .. "end", r[2]); mk(p .. "nr_accesses", r[3]); mk(p .. "age", r[4])
  end
end

local script = os.tmpname()
local f = assert(io.open(script, "w"))
f:write([[
local damon = require "vmlab.damon"
local m, err = damon.monitor { backend = "kernel", sample = "10ms", aggr = "200ms", update = "2s",
  min_regions = 20, max_regions = 500 }
if not m then print("refused: " .. err) return end
local ok, e = m:start()
if not ok then print("start failed: " .. e) return end
local s = m:snapshot()
io.write("pid ", require("vmlab").pid(), "\n")
for _, r in ipairs(s.targets[1].regions) do
  io.write(string.format("region %d %d %d %d\n", r.start, r["end"], r.nr_accesses, r.age))
end
local n = 0
for snap in m:snapshots { count = 2 } do n = n + 1 end
io.write("snapshots ", n, "\n")
m:stop()
m:close()
]])
f:close()
local function run()
  local p = io.popen(string.format("VMLAB_DAMON_SYSFS='%s' %s %s 2>&1", dir, vmlab_bin, script))
  local out = p:read("a")
  p:close()
  return out
end

-- a free kernel: vmlab starts, reads and stops its own kdamond
model("0", "off")
local out = run()
local pid = tonumber(out:match("pid (%d+)"))
t.ok(pid, "the monitor started on a free kernel") if not pid then t.diag(out) end
t.is(cat(ctx .. "operations"), "vaddr", "operations = vaddr")
t.is(cat(ctx .. "monitoring_attrs/intervals/sample_us"), "10000", "sample_us")
t.is(cat(ctx .. "monitoring_attrs/intervals/aggr_us"), "200000", "aggr_us")
t.is(cat(ctx .. "monitoring_attrs/intervals/update_us"), "2000000", "update_us")
t.is(cat(ctx .. "monitoring_attrs/nr_regions/min"), "20", "min regions")
t.is(cat(ctx .. "monitoring_attrs/nr_regions/max"), "500", "max regions")
t.is(cat(ctx .. "targets/nr_targets"), "1", "one target")
t.is(tonumber(cat(ctx .. "targets/0/pid_target")), pid, "the target is the monitoring process")
t.is(cat(ctx .. "schemes/nr_schemes"), "1", "one scheme")
t.is(cat(ctx .. "schemes/0/action"), "stat", "a stat scheme, whose tried regions are the snapshot")
-- the kernel creates the pattern as 0..0 (matching nothing): vmlab widens it
t.is(cat(ctx .. "schemes/0/access_pattern/sz/max"), "18446744073709551615", "the stat scheme takes any size")
t.is(cat(ctx .. "schemes/0/access_pattern/nr_accesses/max"), "4294967295", "any nr_accesses")
t.is(cat(ctx .. "schemes/0/access_pattern/age/max"), "4294967295", "any age")
t.like(out, "region 4096 65536 7 3\nregion 65536 1048576 0 12\n", "the snapshot is the kernel's tried regions")
t.like(out, "snapshots 2", "snapshots{count=2} polls the kernel")
t.is(cat("kdamonds/0/state"), "off", "stop turns it off")
t.is(cat("kdamonds/nr_kdamonds"), "0", "and removes the kdamond it started")

-- record= and on_aggregate: the kernel's aggregations (read by vmlab's
-- sampling thread) go through the same hooks as vmlab's own; vmlab's own
-- DAMOS schemes are refused, naming vmlab.damon.kdamond
model("0", "off")
local rdir = os.tmpname()
os.remove(rdir)
os.execute("mkdir -p '" .. rdir .. "'")
local rscript = rdir .. "/rec.lua"
f = assert(io.open(rscript, "w"))
f:write([[
local damon = require "vmlab.damon"
local m = assert(damon.monitor { backend = "kernel", sample = "5ms", aggr = "50ms",
  record = os.getenv("REC"), format = os.getenv("RECFMT") })
local n, regs, t0 = 0, {}, nil
m:on_aggregate(function(s) n = n + 1; regs = s.targets[1].regions; t0 = t0 or s.time end)
local ok, err = pcall(m.scheme, m, { action = "pageout" })
print("scheme", ok, err)
assert(m:start())
-- 25 aggregations (damo's nr_regions skips the first 20), however slow the machine
local vm, t1 = require("vmlab"), os.time() + 30
while n < 25 and os.time() < t1 do vm.snooze(0.05) end
assert(m:stop())
print("aggregations", n, "regions", #regs, regs[1] and regs[1].nr_accesses)
m:close()
]])
f:close()
local function run_rec(path, fmt)
  local p = io.popen(string.format("REC='%s' RECFMT='%s' VMLAB_DAMON_SYSFS='%s' %s %s 2>&1", path, fmt, dir,
    vmlab_bin, rscript))
  local o = p:read("a")
  p:close()
  return o
end
local rec = rdir .. "/k.json.z"
out = run_rec(rec, "json_compressed")
t.like(out, "scheme\tfalse\t[^\n]*vmlab%.damon%.kdamond", "m:scheme on a kernel monitor refuses, naming vmlab.damon.kdamond")
local nagg, nreg, acc = out:match("aggregations\t(%d+)\tregions\t(%d+)\t(%d+)")
nagg = tonumber(nagg)
t.ok(nagg and nagg >= 25, "on_aggregate sees the kernel's aggregations (" .. tostring(nagg) .. ", 50 ms apart)")
if not nagg then t.diag(out) end
t.is(tonumber(nreg), 2, "each with the kernel's regions")
t.is(tonumber(acc), 7, "and their nr_accesses")
t.is(cat("kdamonds/nr_kdamonds"), "0", "the kdamond is removed after a recorded run")
local record = require "vmlab.record"
local snaps = record.read(rec)
t.is(snaps and #snaps, nagg, "vmlab.record reads the kernel run's record: every aggregation on_aggregate saw")
local r1 = snaps and snaps[1] and snaps[1].targets[1].regions[1]
t.ok(r1 and r1.start == 4096 and r1["end"] == 65536 and r1.nr_accesses == 7 and r1.age == 3,
  "with the kernel's first region, as the kernel reported it")
local p = io.popen(vmlab_bin .. " report nr_regions -i " .. rec .. " 2>&1")
local rep = p:read("a")
p:close()
t.like(rep, "\n%s*50%s+2%s*\n", "vmlab report nr_regions reads it: 2 regions")
local damo3 = os.getenv("VMLAB_DAMO")
local df = damo3 and io.open(damo3)
if df then
  df:close()
  for _, args in ipairs { "nr_regions", "wss --raw_number", "access --raw_form" } do
    local function sh(c) local q = io.popen(c .. " 2>&1") local o = q:read("a") q:close() return o end
    local want = sh("python3 " .. damo3 .. " report " .. args .. " -i " .. rec)
    local got = sh(vmlab_bin .. " report " .. args .. " -i " .. rec)
    if args:match("^access") and want:sub(-1) ~= "\n" then want = want .. "\n" end
    t.is(got, want, "damo reads the kernel run's record as vmlab does: report " .. args)
  end
else
  t.skip("damo not found (set VMLAB_DAMO to damo 3.x's damo script)", 3)
end

-- the kernel stops answering (here: its state file cannot be written):
-- the reader gives up, snapshots say why at once, stop and close work
model("0", "off")
f = assert(io.open(rscript, "w"))
f:write(string.format([[
local damon = require "vmlab.damon"
local m = assert(damon.monitor { backend = "kernel", sample = "5ms", aggr = "50ms" })
assert(m:start())
assert(m:snapshot())
os.remove("%s/kdamonds/0/state")
os.execute("mkdir '%s/kdamonds/0/state'")
local t0 = require("vmlab").now()
local s, err = m:snapshot()
print("snapshot", s, err, string.format("%%.1f", require("vmlab").now() - t0))
print("snooze", pcall(require("vmlab").snooze, 0.2))
print("stop", m:stop())
m:close()
print("closed")
]], dir, dir))
f:close()
os.execute("mkdir -p '" .. rdir .. "'")
out = run_rec("", "")
t.like(out, "snapshot\tnil\t[^\n]*Is a directory\t0%.%d", "a reader that fails: the snapshot says why, at once")
t.like(out, "snooze\tfalse\t[^\n]*update_schemes_tried_regions[^\n]*Is a directory", "and the Lua side is told (raised)")
t.like(out, "stop\ttrue\nclosed", "stop and close still work")
os.execute("rm -rf '" .. rdir .. "'")

-- a kdamond vmlab did not start: nothing is written
model("1", "on")
out = run()
t.like(out, "refused: .*already runs 1 kdamond%(s%) that vmlab did not start", "refused, with the reason")
t.is(cat("kdamonds/nr_kdamonds"), "1", "nr_kdamonds untouched")
t.is(cat("kdamonds/0/state"), "on", "the foreign kdamond keeps running")
t.is(cat(ctx .. "operations"), "", "its context untouched")

-- no DAMON at all
os.execute("rm -rf '" .. dir .. "'")
out = run()
t.like(out, "refused: .*no DAMON sysfs interface", "no DAMON: refused, with the reason")
os.remove(script)
os.execute("rm -rf '" .. dir .. "'")
t.done_testing()
