-- damon.monitor{backend = "uffd", targets = {child}}: a vmlab.proc child (a
-- proc.fork or a proc.child, or {pid = N} of one) monitored with the agent
-- started inside it (it is a vmlab process: it carries the agent's code).
-- The monitor does not own the child: closing it puts every page home and
-- detaches, and the child runs on with its memory intact.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"
local wl = require "vmlab.workload"
local proc = require "vmlab.proc"
local vmlab = require "vmlab"
local MiB = 1024 * 1024

local u = dofile(arg[0]:match("^(.*/)") .. "uffdlib.lua")
if vmlab.sanitized then
  t.plan { skip_all = "the agent does not run inside a sanitized vmlab (it would sample the shadow memory)" }
  return
end

-- hot bytes seen and other bytes reported accessed, best of n snapshots
local function score(m, n, lo, hi)
  local best_in, best_out, total, seen = -1, 0, 0, 0
  for sn in m:snapshots { count = n, timeout = 20 } do
    seen = seen + 1
    local inside_sum, outside_sum, sum = 0, 0, 0
    for _, r in ipairs(sn.targets[1].regions) do
      sum = sum + (r["end"] - r.start)
      if r.nr_accesses > 0 then
        local inside = math.max(0, math.min(r["end"], hi) - math.max(r.start, lo))
        inside_sum, outside_sum = inside_sum + inside, outside_sum + (r["end"] - r.start - inside)
      end
    end
    if inside_sum > best_in or (inside_sum == best_in and outside_sum < best_out) then
      best_in, best_out, total = inside_sum, outside_sum, sum
    end
  end
  return best_in, best_out, total, seen
end

-- a proc.fork: the segment made before the fork has the same address in
-- the child, which writes its own copy (pages shared with the parent
-- cannot be moved) and reads a hot 4 MiB of it until the flag goes
local s = seg.anon("ptarget", "32m")
local flag = os.tmpname()
local f = proc.fork(function()
  s:fill { seed = 5 }
  local w = wl.new { target = s, pattern = "hotspot", hot = { offset = "8m", length = "4m" }, hot_share = 1, op = "read" }
  w:start()
  while io.open(flag) do vmlab.snooze(0.01) end
  w:close()
  return s:verify { seed = 5 } and 0 or 4
end)
vmlab.snooze("100ms")   -- let it fill its copy
local m, err = damon.monitor { backend = "uffd", targets = { f }, sample = "2ms", aggr = "50ms", budget = 0.5,
  min_regions = 50 }
t.ok(m, "a uffd monitor on a proc.fork child (" .. tostring(err) .. ")")
if m then
  m:start()
  local hot_in, cold_out, total, n = score(m, 12, s.addr + 8 * MiB, s.addr + 12 * MiB)
  t.is(n, 12, "fork: twelve snapshots")
  t.cmp_ok(hot_in, ">=", 0.9 * 4 * MiB, "fork: >= 90% of the hot bytes seen (" .. hot_in // 1024 .. " KiB of 4096)")
  t.cmp_ok(cold_out, "<=", 0.1 * (total - 4 * MiB), string.format(
    "fork: <= 10%% of the rest reported (%d KiB of %d MiB)", cold_out // 1024, (total - 4 * MiB) // MiB))
  local st = m:stats()
  t.is(st.pid, f.pid, "fork: stats name the child's pid")
  t.ok(st.running and st.armed > 100 and st.touched > 0, "fork: sampled while it runs (" .. st.armed ..
    " armed, " .. st.touched .. " touched)")
  m:close()
  t.ok(f:alive(), "fork: closing the monitor left the child running")
  -- a second monitor on the same child: a new agent after the first left
  local m2, err2 = damon.monitor { backend = "uffd", mode = "write", targets = { { pid = f.pid } },
    sample = "2ms", aggr = "20ms" }
  t.ok(m2, "fork: a second monitor, {pid = N}, write mode (" .. tostring(err2) .. ")")
  if m2 then
    m2:start()
    local k = 0
    for _ in m2:snapshots { count = 3, timeout = 20 } do k = k + 1 end
    t.is(k, 3, "fork: the second monitor reports")
    m2:close()
  end
end
os.remove(flag)
local how, code = f:wait(20)
t.is(how .. " " .. tostring(code), "exited 0", "fork: the child ended on its own, its memory intact")
f:close()
s:close()

-- a proc.child (command loop), by {pid = N}: asked over its channel
local c = proc.child("ptarget_loop")
local addr = c:eval [[
  local seg, wl = require "vmlab.seg", require "vmlab.workload"
  S = seg.anon("mine", "16m")
  S:fill { seed = 9 }
  W = wl.new { target = S, pattern = "hotspot", hot = { offset = "4m", length = "2m" }, hot_share = 1, op = "write" }
  W:start()
  return S.addr
]]
local mc, errc = damon.monitor { backend = "uffd", targets = { { pid = c.pid } }, sample = "2ms", aggr = "50ms",
  budget = 0.5, min_regions = 50 }
t.ok(mc, "a uffd monitor on a proc.child by {pid = N} (" .. tostring(errc) .. ")")
if mc then
  mc:start()
  local hot_in = score(mc, 8, addr + 4 * MiB, addr + 6 * MiB)
  t.cmp_ok(hot_in, ">=", 0.9 * 2 * MiB, "child: >= 90% of the hot bytes seen (" .. hot_in // 1024 .. " KiB of 2048)")
  mc:close()
end
t.ok(c:alive(), "child: running after the monitor closed")
t.is(c:eval "W:close() S:fill { seed = 9 } return S:verify { seed = 9 } and 'intact'", "intact",
  "child: its command loop answers and its memory is intact")
c:close()

-- refusals
t.error_like(function() damon.monitor { backend = "uffd", targets = { { pid = 1 } } } end,
  "pid 1 is not a vmlab.proc child.*vmlab record %-%- cmd.*kernel", "a pid vmlab cannot put its agent into: why, and what to use")
t.error_like(function() damon.monitor { backend = "uffd", targets = { { pid = (1 << 22) + 7 } } } end,
  "no process", "a pid that does not exist")
t.error_like(function() damon.monitor { backend = "uffd", targets = { { pid = 1, pdi = 2 } } } end,
  "unknown option 'pdi'", "a misspelled key in {pid = N}")
t.error_like(function() damon.monitor { backend = "uffd", targets = { c } } end,
  "the child is closed", "a closed child handle")
local g = proc.fork(function() return 0 end)
g:wait(10)
local mg, errg = damon.monitor { backend = "uffd", targets = { g } }
t.ok(mg == nil and errg:match("has ended"), "a child that ended: nil, " .. tostring(errg))
g:close()
t.done_testing()
