-- DAMOS schemes on another process's memory: the uffd backend applies
-- actions through process_madvise(2) (a pidfd), the advice the kernel
-- takes from another process (cold, pageout, willneed, collapse); others
-- are refused when the scheme is attached.  Checked on RssFile: without
-- swap anonymous memory cannot be paged out, a clean file's pages can.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local vmlab = require "vmlab"

local u = dofile(arg[0]:match("^(.*/)") .. "uffdlib.lua")
local B = u.B

local function rss_file_kb(pid)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("RssFile:%s+(%d+)"))
end

local function rss_file_of(pid, want_kb, timeout)
  local kb
  for _ = 1, timeout / 0.05 do
    kb = rss_file_kb(pid)
    if not kb or kb >= want_kb then return kb end
    vmlab.snooze(0.05)
  end
  return kb
end

local function start(mode)
  -- the file lives in the build directory: on a disk, not tmpfs (whose
  -- pages are shmem: without swap they stay)
  local file = B .. "/pageme." .. mode .. ".tmp"
  local m, err = damon.monitor { backend = "uffd", mode = mode, sample = "2ms", aggr = "40ms", update = "200ms",
    budget = 0.5, targets = { { command = { B .. "/tests/uffd/pageme", file, "32", "20" } } } }
  return m, err
end

for _, mode in ipairs { "rw", "write" } do
  local m, err = start(mode)
  t.ok(m, mode .. ": a monitor on the command (" .. tostring(err) .. ")")
  if not m then break end
  local pid = m:stats().pid
  -- wait until the command has read its 32 MiB file in
  local before = rss_file_of(pid, 32 * 1024, 10)
  t.cmp_ok(before or 0, ">=", 32 * 1024, mode .. ": the command mapped its file (RssFile " .. tostring(before) .. " kB)")
  local sc, serr = m:scheme { action = "pageout" }
  t.ok(sc, mode .. ": a pageout scheme attaches (" .. tostring(serr) .. ")")
  t.like(tostring(sc), "applied", mode .. ": its actions apply (process_madvise), not only recorded")
  m:start()
  local after
  for _ = 1, 100 do
    vmlab.snooze(0.05)
    after = rss_file_kb(pid)
    if after and after < before / 4 then break end
  end
  local st = sc:stats()
  t.ok(after and after < before / 4, mode .. ": RssFile dropped from " .. before .. " kB to " .. tostring(after) ..
    " kB (" .. st.nr_applied .. " regions applied, " .. st.sz_applied .. " bytes)")
  t.cmp_ok(st.nr_applied, ">", 0, mode .. ": the scheme counted its applications")
  m:stop()
  m:close()
end

-- a stat scheme applies (nothing to do); what process_madvise cannot do is refused
do
  local m = assert(start("rw"))
  local sc = m:scheme { action = "stat" }
  t.ok(sc, "a stat scheme attaches")
  local cold = m:scheme { action = "cold" }
  t.ok(cold, "a cold scheme attaches")
  t.error_like(function() m:scheme { action = "hugepage" } end, "cannot apply this action to another process.*process_madvise",
    "hugepage on another process is refused, naming why")
  t.error_like(function() m:scheme { action = "migrate_cold", node = 0 } end, "another process",
    "and so is a migration")
  local s3 = m:scheme { action = "hugepage", apply = false }
  t.ok(s3, "unless only recorded (apply = false)")
  m:start()
  vmlab.snooze(0.3)
  m:stop()
  t.cmp_ok(sc:stats().nr_tried, ">", 0, "the stat scheme ran on the process's regions")
  m:close()
end
t.done_testing()
