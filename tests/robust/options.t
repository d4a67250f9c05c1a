-- Every function that takes an options table refuses a misspelled key,
-- naming it (and the closest valid key): DESIGN.md's rule, checked across
-- the whole Lua API.  Each row calls one function with one typo.
--
-- Rows marked `todo` belong to modules other helpers own in this round
-- (damon, damos, pool, record, report, memtoy, pretty, tap); they are
-- expected to fail until those branches are merged, and the lead removes
-- the mark (todo = nil) after merging.
local t = require "vmlab.tap"
local vmlab = require "vmlab"
local seg = require "vmlab.seg"
local workload = require "vmlab.workload"

local s = seg.anon("opts", "1m")
s:touch()
local path = os.tmpname()
local function monitor()
  local damon = require "vmlab.damon"
  return damon.monitor { targets = { { start = s.addr, ["end"] = s.addr + s.size } },
    oracle = function() return false end, seed = 1 }
end
local snaps = { { time_us = 100000, targets = { { id = 1, regions = {
  { start = 4096, ["end"] = 8192, nr_accesses = 1, age = 0 } } } } } }
local OTHER = "owned by another helper this round; the lead flips it after the merge"

-- { name, function(typo table) ..., the misspelled key, todo reason or nil }
local rows = {
  -- vmlab.seg
  { "seg.anon", function() seg.anon("o1", "4k", { hugee = true }) end, "hugee" },
  { "seg.shmem", function() seg.shmem("o2", "4k", { mapp = false }) end, "mapp" },
  { "seg.memfd", function() seg.memfd("o3", "4k", { sharde = true }) end, "sharde" },
  { "seg.file", function() seg.file(path, { craete = "4k" }) end, "craete" },
  { "seg.wrap", function() seg.wrap("o4", s.addr, s.size, { prto = "r" }) end, "prto" },
  { "s:touch{}", function() s:touch { lenght = "4k" } end, "lenght" },
  { "s:touch(op, {})", function() s:touch("read", { lenght = "4k" }) end, "lenght" },
  { "s:fill", function() s:fill { seeed = 1 } end, "seeed" },
  { "s:verify", function() s:verify { seeed = 1 } end, "seeed" },
  { "s:lock", function() s:lock { onfalt = true } end, "onfalt" },
  { "s:unlock", function() s:unlock { ofset = 0 } end, "ofset" },
  { "s:protect", function() s:protect("rw", { ofset = 0 }) end, "ofset" },
  { "s:advise", function() s:advise("normal", { ofset = 0 }) end, "ofset" },
  { "s:resident", function() s:resident { pgaes = true } end, "pgaes" },
  { "s:pages", function() s:pages { ofset = 0 } end, "ofset" },
  { "s:where", function() s:where { ofset = 0 } end, "ofset" },
  { "s:numa_counts", function() s:numa_counts { ofset = 0 } end, "ofset" },
  { "s:mbind", function() s:mbind("default", nil, { flgas = "move" }) end, "flgas" },
  { "s:move", function() s:move(0, { flgas = "all" }) end, "flgas" },
  { "seg.maps() entry:resident", function() seg.maps()[1]:resident { pgaes = true } end, "pgaes" },
  -- vmlab.workload
  { "workload.new", function() workload.new { target = s, thraeds = 2 } end, "thraeds" },
  { "workload.start", function() workload.start { target = s, duraton = "1s" } end, "duraton" },
  { "workload phases[i]", function() workload.new { target = s, phases = { { pattren = "random" } } } end, "pattren" },
  { "workload hot=", function() workload.new { target = s, pattern = "hotspot", hot = { lenght = "4k" } } end, "lenght" },
  { "w:truth", function() local w = workload.new { target = s } w:truth { form = 0 } end, "form" },
  -- vmlab
  { "vmlab.checkopts", function() vmlab.checkopts({ smaple = 1 }, "x.f", { "sample" }) end, "smaple" },
  { "progress.start", function() require("vmlab.progress").start("x", 1, { unti = "count" }) end, "unti" },
  -- vmlab.damon, vmlab.damos (the damon helper)
  { "damon.monitor", function() require("vmlab.damon").monitor { targets = { s }, smaple = "1ms" } end, "smaple" },
  { "damon.monitor uffd {command}", function() require("vmlab.damon").monitor { backend = "uffd",
    targets = { { comand = { "true" } } } } end, "comand" },
  { "damon.monitor uffd {pid}", function() require("vmlab.damon").monitor { backend = "uffd",
    targets = { { pid = 1, pdi = 1 } } } end, "pdi" },
  { "damon.monitor uffd segments", function() require("vmlab.damon").monitor { backend = "uffd", mode = "write",
    targets = { s }, buget = 0.1 } end, "buget" },
  { "uffd.record", function() require("vmlab.uffd").record { command = { "true" }, smaple = "1ms" } end, "smaple" },
  { "m:snapshots", function() monitor():snapshots { cuont = 1, timeout = 0 } end, "cuont" },
  { "m:scheme", function() monitor():scheme { action = "stat", agee = { 0, 10 } } end, "agee" },
  { "m:scheme goals=", function() monitor():scheme { action = "stat", quota = { sz = "1m", goals = { { metric = "user_input" } } } } end, "goals" },
  { "damos.attach", function() require("vmlab.damos").attach(monitor(), { action = "stat", sizee = { 0, 1 } }) end, "sizee" },
  -- vmlab.trace (a command under valgrind: vmlab's tool or lackey)
  { "trace.lackey", function() require("vmlab.trace").lackey { command = { "true" }, vai = "vmlab" } end, "vai" },
  -- vmlab.uffd (following children: damo's include_child_tasks)
  { "uffd.record", function() require("vmlab.uffd").record { command = { "true" }, include_child_taks = true } end, "include_child_taks" },
  { "damon.monitor uffd target", function() require("vmlab.damon").monitor { backend = "uffd",
    targets = { { command = { "true" }, include_child_taks = true } } } end, "include_child_taks" },
  -- vmlab.pool (the pools helper)
  { "pool.create", function() require("vmlab.pool").create { dri = "/tmp", size = "16m" } end, "dri" },
  -- vmlab.record (the damon helper: record.c)
  { "record.open", function() require("vmlab.record").open(path, { fromat = "json" }) end, "fromat" },
  { "record.write", function() require("vmlab.record").write(path, snaps, { fromat = "json" }) end, "fromat" },
  { "record intervals=", function() require("vmlab.record").write(path, snaps, { intervals = { smaple = 1 } }) end, "smaple" },
  -- vmlab.report (the reports helper)
  { "report.wss", function() require("vmlab.report").wss(snaps, { percentils = { 50 } }) end, "percentils" },
  { "report.nr_regions", function() require("vmlab.report").nr_regions(snaps, { percentils = { 50 } }) end, "percentils" },
  { "report.heats", function() require("vmlab.report").heats(snaps, { time_ress = 10 }) end, "time_ress" },
  { "report.heatmap", function() require("vmlab.report").heatmap(snaps, { widht = 80 }) end, "widht" },
  { "report.image.heatmap", function() require("vmlab.report.image").heatmap(path .. ".png", { { 1 } }, { widht = 300 }) end, "widht" },
  -- stdlib: vmlab.pretty, vmlab.tap, vmlab.memtoy
  { "pretty.format", function() require("vmlab.pretty").format({}, { dpeth = 2 }) end, "dpeth" },
  { "tap.check", function() t.check { roots = true } end, "roots" },
  { "memtoy.run", function() require("vmlab.memtoy").run("pid", { exatc = true }) end, "exatc" },
}

for _, row in ipairs(rows) do
  local name, fn, key, todo = row[1], row[2], row[3], row[4]
  local function check()
    local ok, err = pcall(fn)
    t.ok(not ok and tostring(err):find("'" .. key .. "'", 1, true) ~= nil
      and tostring(err):find("unknown", 1, true) ~= nil,
      ("%s: misspelled '%s' raises, naming it"):format(name, key))
    if ok or not tostring(err):find(key, 1, true) then t.diag("  got: " .. tostring(err)) end
  end
  if todo then t.todo(todo, check) else check() end
  collectgarbage()   -- what a row made by mistake (a monitor) goes now
end

-- The message names the closest valid key.
t.error_like(function() seg.anon("o6", "4k", { hugee = true }) end,
  "seg.anon: unknown option 'hugee' %(did you mean 'huge'%?%)", "the closest key is suggested")
t.error_like(function() s:touch { zzz = 1 } end, "unknown option 'zzz' %(valid: op, order, offset, length",
  "or the valid keys when none is close")
os.remove(path)
os.remove(path .. ".png")
s:close()
t.done_testing()
