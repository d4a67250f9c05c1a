-- vmlab.damon.kdamond against a model of /sys/kernel/mm/damon/admin (the
-- real one is exercised in the 6.12 guest, tests/kernel/): what it writes
-- for pid targets, regions and schemes with quotas, watermarks and
-- filters; that a kdamond it did not start is left alone; that the
-- kernel's errors name the file; that options are checked.
local t = require "vmlab.tap"
local kdamond = require "vmlab.damon.kdamond"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"

local fs = dofile(arg[0]:match("^(.*/)") .. "sysfs_model.lua")
local dir, mk, cat = fs.dir, fs.mk, fs.cat
local c = "kdamonds/0/contexts/0/"
local function model(nr, opts)
  opts = opts or {}
  os.execute("rm -rf '" .. dir .. "'")
  mk("kdamonds/nr_kdamonds", nr)
  mk("kdamonds/0/state", nr == "0" and "off" or "on")
  mk("kdamonds/0/pid", "4711")
  mk("kdamonds/0/contexts/nr_contexts", "0")
  mk(c .. "operations", "")
  for _, f in ipairs { "sample_us", "aggr_us", "update_us" } do mk(c .. "monitoring_attrs/intervals/" .. f, "0") end
  mk(c .. "monitoring_attrs/nr_regions/min", "0")
  mk(c .. "monitoring_attrs/nr_regions/max", "0")
  mk(c .. "targets/nr_targets", "0")
  mk(c .. "targets/0/pid_target", "0")
  mk(c .. "targets/0/regions/nr_regions", "0")
  mk(c .. "targets/0/regions/0/start", "0")
  mk(c .. "targets/0/regions/0/end", "0")
  mk(c .. "schemes/nr_schemes", "0")
  for i = 0, 1 do
    local s = c .. "schemes/" .. i .. "/"
    mk(s .. "action", "")
    for _, r in ipairs { "sz", "nr_accesses", "age" } do mk(s .. "access_pattern/" .. r .. "/min", "0"); mk(s .. "access_pattern/" .. r .. "/max", "0") end
    for _, q in ipairs { "ms", "bytes", "reset_interval_ms" } do mk(s .. "quotas/" .. q, "0") end
    for _, q in ipairs { "sz_permil", "nr_accesses_permil", "age_permil" } do mk(s .. "quotas/weights/" .. q, "0") end
    for _, q in ipairs { "metric", "interval_us", "high", "mid", "low" } do mk(s .. "watermarks/" .. q, "0") end
    mk(s .. "filters/nr_filters", "0")
    if not opts.no_filter_dir then
      for _, q in ipairs { "type", "matching", "memcg_path", "addr_start", "addr_end", "target_idx" } do mk(s .. "filters/0/" .. q, "") end
    end
    for _, q in ipairs { "nr_tried", "sz_tried", "nr_applied", "sz_applied", "qt_exceeds" } do mk(s .. "stats/" .. q, "3") end
    mk(s .. "tried_regions/total_bytes", "8192")
    mk(s .. "tried_regions/" .. (i + 4) .. "/start", "4096")
    mk(s .. "tried_regions/" .. (i + 4) .. "/end", "12288")
    mk(s .. "tried_regions/" .. (i + 4) .. "/nr_accesses", "7")
    mk(s .. "tried_regions/" .. (i + 4) .. "/age", "2")
  end
end

local function run(code)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local p = io.popen(string.format("VMLAB_DAMON_SYSFS='%s' %s %s 2>&1", dir, vmlab_bin, script))
  local out = p:read("a")
  p:close()
  os.remove(script)
  return out
end

model("0")
local out = run([[
local kdamond = require "vmlab.damon.kdamond"
local kd, err, errno = kdamond.start { pid = 1234, regions = { { start = 0x10000, ["end"] = 0x50000 } },
  sample = "10ms", aggr = "200ms", update = "2s", min_regions = 20, max_regions = 500,
  schemes = { { action = "stat" },
    { action = "pageout", nr_accesses = { max = 0 }, age = { min = 5 }, sz = { min = "8k", max = "1m" },
      apply_interval = "1s", target_nid = 1,
      quota = { ms = 10, bytes = "4m", reset_interval = "1s", weights = { sz = 1, nr_accesses = 2, age = 3 } },
      watermarks = { metric = "free_mem_rate", interval = "5s", high = 500, mid = 400, low = 50 },
      filters = { { type = "anon", matching = false } } } } }
if not kd then print("refused", err, errno) return end
print("tostring", tostring(kd))
print("pid", kd:pid())
local s = kd:scheme(2)
print("scheme", s.action, s.stats.nr_applied, #s.tried_regions, s.tried_regions[1].nr_accesses)
print("update", kd:update("tried_bytes"))
kd:close()
print("closed", tostring(kd))
]])
t.like(out, "tostring\tkdamond %(" .. dir:gsub("%p", "%%%0") .. "/kdamonds/0%)", "started, on the model")
t.is(cat(c .. "operations"), "fvaddr", "a pid with regions: fvaddr (the regions stay fixed)")
t.is(cat(c .. "targets/nr_targets"), "1", "one target")
t.is(cat(c .. "targets/0/pid_target"), "1234", "the pid")
t.is(cat(c .. "targets/0/regions/nr_regions"), "1", "one region")
t.is(cat(c .. "targets/0/regions/0/start") .. "-" .. cat(c .. "targets/0/regions/0/end"), "65536-327680", "its range")
t.is(cat(c .. "monitoring_attrs/intervals/sample_us") .. " " .. cat(c .. "monitoring_attrs/intervals/aggr_us") ..
  " " .. cat(c .. "monitoring_attrs/intervals/update_us"), "10000 200000 2000000", "intervals")
t.is(cat(c .. "monitoring_attrs/nr_regions/min") .. ".." .. cat(c .. "monitoring_attrs/nr_regions/max"), "20..500",
  "region bounds")
t.is(cat(c .. "schemes/nr_schemes"), "2", "two schemes")
local s0, s1 = c .. "schemes/0/", c .. "schemes/1/"
t.is(cat(s0 .. "action"), "stat", "scheme 1: stat")
t.is(cat(s0 .. "access_pattern/sz/max") .. " " .. cat(s0 .. "access_pattern/nr_accesses/max") .. " " ..
  cat(s0 .. "access_pattern/age/max"), "18446744073709551615 4294967295 4294967295",
  "a pattern left out matches everything (the kernel's 0..0 matches nothing)")
t.is(cat(s1 .. "action"), "pageout", "scheme 2: pageout")
t.is(cat(s1 .. "access_pattern/sz/min") .. ".." .. cat(s1 .. "access_pattern/sz/max"), "8192..1048576", "sizes")
t.is(cat(s1 .. "access_pattern/nr_accesses/min") .. ".." .. cat(s1 .. "access_pattern/nr_accesses/max"), "0..0",
  "accesses")
t.is(cat(s1 .. "access_pattern/age/min"), "5", "age")
t.is(cat(s1 .. "apply_interval_us"), "1000000", "apply interval")
t.is(cat(s1 .. "target_nid"), "1", "target node")
t.is(cat(s1 .. "quotas/ms") .. " " .. cat(s1 .. "quotas/bytes") .. " " .. cat(s1 .. "quotas/reset_interval_ms"),
  "10 4194304 1000", "quota")
t.is(cat(s1 .. "quotas/weights/sz_permil") .. cat(s1 .. "quotas/weights/nr_accesses_permil") ..
  cat(s1 .. "quotas/weights/age_permil"), "123", "quota weights")
t.is(cat(s1 .. "watermarks/metric") .. " " .. cat(s1 .. "watermarks/interval_us") .. " " .. cat(s1 .. "watermarks/high") ..
  " " .. cat(s1 .. "watermarks/mid") .. " " .. cat(s1 .. "watermarks/low"), "free_mem_rate 5000000 500 400 50",
  "watermarks")
t.is(cat(s1 .. "filters/nr_filters") .. " " .. cat(s1 .. "filters/0/type") .. " " .. cat(s1 .. "filters/0/matching"),
  "1 anon N", "filter")
t.like(out, "pid\t4711\n", "kd:pid() reads the kdamond's pid")
t.like(out, "scheme\tpageout\t3\t1\t7\n", "kd:scheme(2): settings, stats and tried regions read back")
t.like(out, "update\ttrue\n", "kd:update")
t.is(cat("kdamonds/0/state"), "off", "close turns it off")
t.is(cat("kdamonds/nr_kdamonds"), "0", "and removes it")
t.like(out, "closed\tkdamond %(closed%)", "closed")

-- a kdamond vmlab did not start: nothing written
model("1")
out = run([[print(require("vmlab.damon.kdamond").start { pid = 1 })]])
t.like(out, "nil\tkdamond.start: the kernel already runs 1 kdamond%(s%) that vmlab did not start", "refused")
t.like(out, "\t16\n", "EBUSY")
t.is(cat("kdamonds/0/state") .. cat("kdamonds/nr_kdamonds") .. cat(c .. "targets/0/pid_target"), "on10",
  "the foreign kdamond untouched")

-- a file the kernel lacks: the error names it; the half-made kdamond goes
model("0", { no_filter_dir = true })
out = run([[print(require("vmlab.damon.kdamond").start { pid = 1, schemes = { { action = "stat",
  filters = { { type = "young" } } } } })]])
t.like(out, "writing 'young' to " .. dir:gsub("%p", "%%%0") .. "/kdamonds/0/contexts/0/schemes/0/filters/0/type: No such file",
  "an error names the file and the value")
t.like(out, "\t2\n", "with the errno")
t.is(cat("kdamonds/nr_kdamonds"), "0", "the half-made kdamond is removed")

-- as nobody: EACCES, naming the file (a model only root may read)
if os.execute("command -v setpriv >/dev/null && id nobody >/dev/null 2>&1") and
   io.popen("id -u"):read("l") == "0" then
  model("0")
  os.execute("chmod 0711 '" .. dir .. "' '" .. dir .. "/kdamonds'; chmod 0600 '" .. dir .. "/kdamonds/nr_kdamonds'")
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write([[print(require("vmlab.damon.kdamond").start { pid = 1 })]])
  f:close()
  os.execute("chmod 0644 " .. script)
  local p = io.popen(string.format("VMLAB_DAMON_SYSFS='%s' setpriv --reuid=nobody --regid=nogroup --clear-groups %s %s 2>&1",
    dir, vmlab_bin, script))
  out = p:read("a")
  p:close()
  os.remove(script)
  t.like(out, "nil\tkdamond.start: reading .*/kdamonds/nr_kdamonds %(DAMON's sysfs interface is root's%): Permission denied\t13",
    "as nobody: EACCES, naming the file")
  t.is(cat("kdamonds/nr_kdamonds"), "0", "nothing written")
else
  t.skip("needs root, setpriv and the user nobody", 2)
end

-- options: checked before anything is written (run against a model of a
-- busy kernel, so that a check that let one through could start nothing)
model("1")
local cases = {
  { "{ pid = 1, smaple = '5ms' }", "unknown option 'smaple' %(did you mean 'sample'%?%)", "unknown options" },
  { "{ pid = 1, schemes = { { action = 'stat', qouta = {} } } }", "unknown option 'qouta'", "scheme options" },
  { "{ pid = 1, schemes = { { age = { min = 5, max = 2 } } } }", "min > max", "a range upside down" },
  { "{ ops = 'vaddr' }", "needs a pid", "vaddr without a pid" },
  { "{ pid = 1, targets = { { pid = 2 } } }", "not both", "pid and targets" },
  { "{ pid = 1, regions = { { start = 10, ['end'] = 5 } } }", "empty", "an empty region" },
  { "{ pid = 1, sample = '1s', aggr = '10ms' }", "kdamond.start: ", "bad attributes" },
  { "{ pid = 1, schemes = { { filters = { { matching = true } } } } }", "needs a type", "a filter without a type" },
}
local code = { "local k = require 'vmlab.damon.kdamond'" }
for i, cs in ipairs(cases) do
  code[#code + 1] = string.format("print(%d, select(2, pcall(k.start, %s)))", i, cs[1])
end
out = run(table.concat(code, "\n"))
for i, cs in ipairs(cases) do
  t.like(out:match("\n?" .. i .. "\t([^\n]*)") or "", cs[2], cs[3])
end
t.is(cat("kdamonds/0/state") .. cat("kdamonds/nr_kdamonds"), "on1", "nothing written")
os.execute("rm -rf '" .. dir .. "'")
t.done_testing()
