-- Children of a monitored command (uffd backend): followed when asked
-- (damo's --include_child_tasks: each descendant a target of its own, in
-- the record as damo's multiple targets), left alone and intact when
-- not; a raw clone(2) that runs no fork handler gets the pages held at
-- that moment.  tests/uffd/kids is the program: its children check the
-- memory they inherited and their own, and it prints a checksum that
-- must equal an unmonitored run's.
local t = require "vmlab.tap"
local uffd = require "vmlab.uffd"
local record = require "vmlab.record"
local damon = require "vmlab.damon"

local u = dofile(arg[0]:match("^(.*/)") .. "uffdlib.lua")
local B, V, sh, hard = u.B, u.V, u.sh, u.hard
local kids = B .. "/tests/uffd/kids"
local tmp = os.tmpname()

local function checksum(out) return out:match("checksum (%x+)") end
-- targets in the record, and how many of them saw an access
local function targets_of(path)
  local snaps = record.read(path)
  if not snaps then return nil end
  local n, touched = 0, {}
  for _, s in ipairs(snaps) do
    if #s.targets > n then n = #s.targets end
    for k, tg in ipairs(s.targets) do
      for _, r in ipairs(tg.regions) do
        if r.nr_accesses > 0 then touched[k] = true end
      end
    end
  end
  local nt = 0
  for _ in pairs(touched) do nt = nt + 1 end
  return n, nt, #snaps
end

local base = checksum(sh(kids .. " fork 3"))
t.ok(base, "kids runs alone")

-- followed: the command and each child are targets (fork, and fork+exec:
-- a child that execs keeps its target), in each record format, both modes
for _, c in ipairs {
  { "fork", "rw", "json" }, { "exec", "rw", "json_compressed" }, { "fork", "write", "record" },
  { "exec", "write", "json" } } do
  local what, mode, fmt = c[1], c[2], c[3]
  local out, code = sh(V .. " record -v --include_child_tasks --mode " .. mode .. " --format " .. fmt .. " " ..
    hard .. " -o " .. tmp .. " -- " .. kids .. " " .. what .. " 3")
  local name = what .. ", " .. mode .. " mode, " .. fmt
  t.is(code, 0, name .. ": exit status 0 (every child found its memory intact)")
  t.ok(checksum(out) == base and out:find("children_bad 0"), name .. ": memory bit-identical to the unmonitored run")
  t.like(out, "4 targets %(the command and 3 children%)", name .. ": the command and its 3 children were targets")
  local n, touched = targets_of(tmp)
  t.is(n, 4, name .. ": the record carries 4 targets")
  t.ok(touched and touched >= 3, name .. ": and accesses in at least 3 of them (" .. tostring(touched) .. ")")
  if code ~= 0 or n ~= 4 then t.diag(out) end
end

-- many execs with pages out: exec kills the agent's thread, then reads the
-- old image's robust futex list, so the agent's exec functions bring
-- every page home first (without, about one exec in thirty hung here)
do
  local out, code = sh("timeout 120 " .. V .. " record -v --include_child_tasks " .. hard .. " -o " .. tmp ..
    " -- " .. kids .. " exec 12")
  t.ok(code == 0 and checksum(out) == base and out:find("children_bad 0"),
    "12 children exec with pages out: none hangs, all intact (status " .. code .. ")")
  t.like(out, "13 targets", "each exec'ed child kept its target")
end

-- children that end before vmlab reads their CHILD (their parent reaped
-- them: no pidfd to open) are targets too, and vmlab reads every CHILD
-- before it stops: a loaded CI run once counted 8 targets of 13 above
do
  local out, code = sh(V .. " record -v --include_child_tasks " .. hard .. " -o " .. tmp ..
    " -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done'")
  t.is(code, 0, "ten short children under sh: status 0")
  t.like(out, "11 targets %(the command and 10 children%)", "each short-lived child is a target")
end

-- a shell pipeline: sh, the program, cat and the program's children
do
  local out, code = sh(V .. " record -v --include-child-tasks " .. hard .. " -o " .. tmp .. " -- sh -c '" ..
    kids .. " fork 2 | cat'")
  t.ok(code == 0 and checksum(out) == base, "a pipeline under sh: identical output, status 0")
  t.like(out, "5 targets", "sh, kids, cat and kids' two children were targets")
end

-- not asked: one target; the children run unmonitored and intact
do
  local out, code = sh(V .. " record -v " .. hard .. " -o " .. tmp .. " -- " .. kids .. " fork 3")
  t.ok(code == 0 and checksum(out) == base and out:find("children_bad 0"),
    "children not followed: they run with their memory intact")
  t.is((targets_of(tmp)), 1, "and the record has the command alone")
  t.unlike(out, "targets", "no word of targets")
end

-- a raw clone(2) without CLONE_VM while pages are out: no fork handler
-- of the C library runs.  Through syscall() the agent's own syscall()
-- runs them (no privilege needed: checked with fork events off); by the
-- instruction itself, UFFD_EVENT_FORK hands the child the held pages (the
-- kernel gives fork events to a holder of CAP_SYS_PTRACE: root here).
do
  local alone = checksum(sh(kids .. " clone 40"))
  local root = sh("id -u"):match("^0")
  for _, c in ipairs { { "clone", "VMLAB_UFFD_NO_FORK_EVENTS=1 ", "through syscall(), no fork events" },
                       { "clone", "", "through syscall()" },
                       { "asmclone", "", "by the instruction (fork events)" } } do
    local out, code = sh(c[2] .. V .. " record -v " .. hard .. " -o " .. tmp .. " -- " .. kids .. " " .. c[1] .. " 40")
    if c[1] == "asmclone" and not root then
      t.skip("raw clone by the instruction: UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE (not root)")
    else
      t.ok(code == 0 and out:find("clone_bad 0") and checksum(out) == alone,
        "raw clone " .. c[3] .. " with pages out: every child saw its whole memory (" ..
        tostring(out:match("clone_bad %d+")) .. ")")
    end
    local armed = tonumber(out:match("(%d+) pages armed"))
    t.ok(armed and armed > 1000, "  pages were going out all along (" .. tostring(armed) .. " armed)")
  end
end

-- vmlab SIGKILLed while children are followed: each child's agent puts
-- its pages back, the program and its children run on intact
do
  local okfile = os.tmpname()
  os.remove(okfile)
  local out = sh(V .. " record --include_child_tasks " .. hard .. " -o " .. tmp .. " -- " .. kids ..
    " fork 2 8 >" .. okfile .. ".tmp 2>&1 & p=$!; sleep 1; kill -9 $p; wait $p; echo killed $?")
  t.like(out, "killed 137", "vmlab was SIGKILLed mid-run")
  local text
  for _ = 1, 600 do   -- the program runs on after vmlab: wait for its last line
    local f = io.open(okfile .. ".tmp")
    text = f and f:read("a") or ""
    if f then f:close() end
    if text:find("checksum") then break end
    os.execute("sleep 0.1")
  end
  t.ok(text:find("children_bad 0") and checksum(text) == base,
    "the program and its children found their memory intact to the end")
  os.remove(okfile .. ".tmp")
end

-- Lua: a uffd target with include_child_tasks; targets in stats and snapshots
do
  local m = damon.monitor { backend = "uffd", sample = 0.001, aggr = 0.02, update = 0.1, budget = 1,
    targets = { { command = { "sh", "-c", "exec " .. kids .. " fork 2 >/dev/null" }, include_child_tasks = true } } }
  m:start()
  local most = 0
  for s in m:snapshots { count = 400, timeout = 1 } do
    if #s.targets > most then most = #s.targets end
    local st = m:stats()
    if not st.running and st.targets_running == 0 then break end
  end
  local st = m:stats()
  m:close()
  t.is(st.targets, 3, "damon.monitor: the command and its two children are targets")
  t.is(most, 3, "snapshots carry all three")
  t.is(st.status, 0, "the command ended well")
  t.error_like(function()
    damon.monitor { backend = "uffd", targets = { { command = { "true" }, include_child_task = true } } }
  end, "unknown option 'include_child_task'", "a misspelt key is named")
  local status, res = uffd.record { command = { "sh", "-c", "exec " .. kids .. " fork 2 >/dev/null" }, out = tmp,
    include_child_tasks = true,
    sample = "1ms", aggr = "20ms" }
  t.ok(status == 0 and res.targets == 3, "uffd.record{include_child_tasks = true}: 3 targets (" ..
    tostring(res and res.targets) .. ")")
end

os.remove(tmp)
t.done_testing()
