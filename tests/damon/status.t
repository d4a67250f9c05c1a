-- damon.kernel_status() (vmlab.damon.status for now) and `vmlab damon
-- status`: the kernel's kdamonds read from sysfs and never written, against
-- a model of a 6.12 tree (one kdamond with every part a scheme has) and of an
-- older kernel's, on this machine's own sysfs, and as nobody.
local t = require "vmlab.tap"
local status = require "vmlab.damon.status"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"

local dir = os.tmpname()
os.remove(dir)
local function mk(path, content)
  os.execute("mkdir -p '" .. (dir .. "/" .. path):match("^(.*)/[^/]*$") .. "'")
  local f = assert(io.open(dir .. "/" .. path, "w"))
  f:write(content .. "\n")
  f:close()
end
local function sh(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("a")
  local _, _, code = p:close()
  return s, code
end

-- A 6.12 kdamond: vaddr on pid 4242 with one region set, one pageout scheme.
local kd = "kdamonds/0/"
local c = kd .. "contexts/0/"
local s = c .. "schemes/0/"
local function model(old)
  os.execute("rm -rf '" .. dir .. "'")
  mk("kdamonds/nr_kdamonds", "1")
  mk(kd .. "state", "on")
  mk(kd .. "pid", "777")
  mk(kd .. "contexts/nr_contexts", "1")
  mk(c .. "avail_operations", "vaddr fvaddr paddr")
  mk(c .. "operations", "vaddr")
  mk(c .. "monitoring_attrs/intervals/sample_us", "5000")
  mk(c .. "monitoring_attrs/intervals/aggr_us", "100000")
  mk(c .. "monitoring_attrs/intervals/update_us", "1000000")
  mk(c .. "monitoring_attrs/nr_regions/min", "10")
  mk(c .. "monitoring_attrs/nr_regions/max", "1000")
  mk(c .. "targets/nr_targets", "1")
  mk(c .. "targets/0/pid_target", "4242")
  mk(c .. "targets/0/regions/nr_regions", "1")
  mk(c .. "targets/0/regions/0/start", "4096")
  mk(c .. "targets/0/regions/0/end", "1052672")
  mk(c .. "schemes/nr_schemes", "1")
  mk(s .. "action", "pageout")
  mk(s .. "access_pattern/sz/min", "4096")
  mk(s .. "access_pattern/sz/max", "18446744073709551615")
  mk(s .. "access_pattern/nr_accesses/min", "0")
  mk(s .. "access_pattern/nr_accesses/max", "0")
  mk(s .. "access_pattern/age/min", "10")
  mk(s .. "access_pattern/age/max", "4294967295")
  mk(s .. "quotas/ms", "10")
  mk(s .. "quotas/bytes", "134217728")
  mk(s .. "quotas/reset_interval_ms", "1000")
  mk(s .. "quotas/weights/sz_permil", "0")
  mk(s .. "quotas/weights/nr_accesses_permil", "1")
  mk(s .. "quotas/weights/age_permil", "1")
  mk(s .. "watermarks/metric", "free_mem_rate")
  mk(s .. "watermarks/interval_us", "5000000")
  mk(s .. "watermarks/high", "600")
  mk(s .. "watermarks/mid", "500")
  mk(s .. "watermarks/low", "50")
  mk(s .. "filters/nr_filters", "1")
  mk(s .. "filters/0/type", "anon")
  mk(s .. "filters/0/matching", "Y")
  mk(s .. "filters/0/memcg_path", "")
  mk(s .. "filters/0/addr_start", "0")
  mk(s .. "filters/0/addr_end", "0")
  mk(s .. "filters/0/target_idx", "0")
  mk(s .. "stats/nr_tried", "12")
  mk(s .. "stats/sz_tried", "50331648")
  mk(s .. "stats/nr_applied", "10")
  mk(s .. "stats/sz_applied", "41943040")
  mk(s .. "stats/qt_exceeds", "2")
  if not old then
    mk(s .. "apply_interval_us", "0")
    mk(s .. "target_nid", "-1")
    mk(s .. "quotas/effective_bytes", "104857600")
    mk(s .. "quotas/goals/nr_goals", "1")
    mk(s .. "quotas/goals/0/target_metric", "some_mem_psi_us")
    mk(s .. "quotas/goals/0/target_value", "1000")
    mk(s .. "quotas/goals/0/current_value", "250")
    mk(s .. "tried_regions/total_bytes", "8192")
    -- 6.12 numbers the tried regions of all schemes from one counter:
    -- this scheme's are 2 and 10 (in that order, not the names' order)
    mk(s .. "tried_regions/2/start", "4096")
    mk(s .. "tried_regions/2/end", "8192")
    mk(s .. "tried_regions/2/nr_accesses", "0")
    mk(s .. "tried_regions/2/age", "15")
    mk(s .. "tried_regions/10/start", "8192")
    mk(s .. "tried_regions/10/end", "12288")
    mk(s .. "tried_regions/10/nr_accesses", "0")
    mk(s .. "tried_regions/10/age", "40")
  end
end

-- every file's content and mtime: a read must leave both alone
local function fingerprint()
  return sh("find '" .. dir .. "' -type f -printf '%p %T@ %s\\n' | sort; find '" .. dir ..
    "' -type f | sort | xargs cat | md5sum")
end

model(false)
local before = fingerprint()
local st, err = status.kernel_status { root = dir }
t.ok(st, "a 6.12 model reads" .. (err and ": " .. err or ""))
st = st or { kdamonds = {} }
t.is(st.root, dir, "root")
t.is(#st.kdamonds, 1, "one kdamond")
local k = st.kdamonds[1] or { contexts = {} }
t.is(k.state, "on", "state on")
t.is(k.pid, 777, "its pid")
t.is(k.refresh_ms, nil, "no refresh_ms before 6.14: nil")
local ctx = k.contexts[1] or { targets = {}, schemes = {}, attrs = {}, avail_operations = {} }
t.is(ctx.operations, "vaddr", "operations")
t.is_deeply(ctx.avail_operations, { "vaddr", "fvaddr", "paddr" }, "avail_operations as a list")
t.is_deeply(ctx.attrs, { sample_us = 5000, aggr_us = 100000, update_us = 1000000, min_nr_regions = 10,
  max_nr_regions = 1000 }, "attributes")
t.is(ctx.targets[1] and ctx.targets[1].pid, 4242, "target pid")
t.is(ctx.targets[1] and #ctx.targets[1].regions, 1, "the region set on the target")
t.is(ctx.targets[1] and ctx.targets[1].regions[1]["end"], 1052672, "its end")
local sc = ctx.schemes[1] or {}
t.is(sc.action, "pageout", "scheme action")
t.is_deeply(sc.access_pattern, { sz = { min = 4096, max = math.huge }, nr_accesses = { min = 0, max = 0 },
  age = { min = 10, max = 4294967295 } }, "access pattern (ULONG_MAX is math.huge)")
t.is(sc.apply_interval_us, 0, "apply_interval_us")
t.is(sc.target_nid, nil, "target_nid -1: no target node")
t.is_deeply(sc.quotas, { ms = 10, bytes = 134217728, reset_interval_ms = 1000, effective_bytes = 104857600,
  weights = { sz_permil = 0, nr_accesses_permil = 1, age_permil = 1 },
  goals = { { metric = "some_mem_psi_us", target_value = 1000, current_value = 250 } } }, "quotas and goals")
t.is_deeply(sc.watermarks, { metric = "free_mem_rate", interval_us = 5000000, high = 600, mid = 500, low = 50 },
  "watermarks")
t.is_deeply(sc.filters, { { kind = "filters", type = "anon", matching = true, addr_start = 0, addr_end = 0,
  target_idx = 0 } }, "filters")
t.is_deeply(sc.stats, { nr_tried = 12, sz_tried = 50331648, nr_applied = 10, sz_applied = 41943040,
  qt_exceeds = 2 }, "stats")
t.is(sc.tried_regions and #sc.tried_regions, 2, "tried regions (numbered 2 and 10: listed, not counted from 0)")
t.is(sc.tried_regions and sc.tried_regions[1].start, 4096, "in the kernel's order")
t.is(sc.tried_regions and sc.tried_regions.total_bytes, 8192, "their total_bytes")
t.is_deeply(sc.tried_regions and sc.tried_regions[2], { start = 8192, ["end"] = 12288, nr_accesses = 0, age = 40 },
  "a tried region")
t.is(fingerprint(), before, "reading changed no file (content and mtime)")

-- the same through VMLAB_DAMON_SYSFS, and on the command line
local out, code = sh(string.format("VMLAB_DAMON_SYSFS='%s' %s damon status 2>&1", dir, vmlab_bin))
t.is(code, 0, "vmlab damon status exits 0")
t.like(out, "kdamond 0: on, pid 777\n", "it lists the kdamond")
t.like(out, "context 0: operations vaddr %(available: vaddr fvaddr paddr%)", "the context")
t.like(out, "intervals: sample 5 ms, aggr 100 ms, update 1 s; regions 10%.%.1000", "the attributes")
t.like(out, "target 0: pid 4242, regions 0x1000%-0x101000", "the target")
t.like(out, "scheme 0: action pageout\n", "the scheme")
t.like(out, "access pattern: size 4 KiB%.%.max, nr_accesses 0%.%.0, age 10%.%.max", "its access pattern")
t.like(out, "watermarks: free_mem_rate every 5 s, high 600, mid 500, low 50", "its watermarks")
t.like(out, "filter 0 %(filters%): anon, matching", "its filter")
t.like(out, "stats: tried 12 regions %(48 MiB%), applied 10 %(40 MiB%), quota exceeded 2 time%(s%)", "its stats")
t.like(out, "tried regions: 2, 8 KiB total", "its tried regions")
out, code = sh(string.format("%s damon status --root '%s' 2>&1", vmlab_bin, dir))
t.like(out, "kdamond 0: on", "--root names the tree")
out, code = sh(vmlab_bin .. " damon stats 2>&1")
t.ok(code ~= 0 and out:find("unknown command 'stats'"), "an unknown command is refused")

-- as nobody the model (world-readable) reads: no write is needed
local ok_nobody = sh("command -v setpriv") ~= "" and sh("id -u"):match("^0") and
  sh("id -u nobody 2>/dev/null") ~= ""
if ok_nobody then
  os.execute("chmod -R a+rX '" .. dir .. "'")
  local as = "setpriv --reuid=nobody --regid=nogroup --clear-groups "
  out, code = sh(string.format("%s%s damon status --root '%s' 2>&1", as, vmlab_bin, dir))
  t.like(out, "kdamond 0: on", "nobody reads a readable tree: reading needs no write")
  -- and a tree nobody may not read: EACCES, naming the file
  os.execute("chmod 0600 '" .. dir .. "/kdamonds/nr_kdamonds'")
  out = sh(string.format("%s%s -e 'print(select(2, require(\"vmlab.damon.status\").kernel_status{root=%q}))' 2>&1",
    as, vmlab_bin, dir))
  t.like(out, "reading " .. dir:gsub("%p", "%%%0") .. "/kdamonds/nr_kdamonds: Permission denied", "as nobody: EACCES, naming the file")
  out = sh(string.format("%s%s -e 'print(select(3, require(\"vmlab.damon.status\").kernel_status{root=%q}))' 2>&1",
    as, vmlab_bin, dir))
  t.like(out, "^13\n", "errno 13")
else
  t.skip("needs root, setpriv and the user nobody", 4)
end

-- a scheme that tried nothing yet: an empty tried_regions directory
model(false)
os.execute("rm -rf '" .. dir .. "/" .. s .. "tried_regions/2' '" .. dir .. "/" .. s .. "tried_regions/10'")
st = status.kernel_status { root = dir }
sc = st and st.kdamonds[1].contexts[1].schemes[1] or {}
t.is(sc.tried_regions and #sc.tried_regions, 0, "no tried regions: an empty list")

-- an older kernel (5.18): no apply interval, target node, goals or tried regions
model(true)
st, err = status.kernel_status { root = dir }
sc = st and st.kdamonds[1].contexts[1].schemes[1] or {}
t.ok(st, "a 5.18 model reads" .. (err and ": " .. err or ""))
t.ok(sc.apply_interval_us == nil and sc.quotas and sc.quotas.effective_bytes == nil and sc.tried_regions == nil,
  "what it lacks is nil")
t.is(sc.quotas and #sc.quotas.goals, 0, "no goals")

-- bad input
os.execute("rm -rf '" .. dir .. "'")
local r, msg, errno = status.kernel_status { root = dir }
t.is(r, nil, "no tree: nil")
t.like(msg, "no DAMON sysfs interface", "with the reason")
t.is(errno, 2, "ENOENT")
t.error_like(function() status.kernel_status { rot = "/x" } end, "unknown option 'rot' %(did you mean 'root'%?%)",
  "options are checked")

-- this machine: its tree read, and left as it was
local real = "/sys/kernel/mm/damon/admin/kdamonds"
local f = io.open(real .. "/nr_kdamonds")
if f then
  local n = tonumber(f:read("l"))
  f:close()
  local function states()
    local v = {}
    for i = 0, (n or 0) - 1 do
      local g = io.open(real .. "/" .. i .. "/state")
      v[#v + 1] = g and g:read("l") or "?"
      if g then g:close() end
    end
    return table.concat(v, ",")
  end
  local s0 = states()
  st, err = status.kernel_status()
  t.ok(st, "this machine's sysfs reads" .. (err and ": " .. err or ""))
  t.is(st and #st.kdamonds, n, "as many kdamonds as nr_kdamonds says (" .. tostring(n) .. ")")
  t.is(states(), s0, "their states unchanged (" .. s0 .. ")")
  if ok_nobody then
    local as = "setpriv --reuid=nobody --regid=nogroup --clear-groups "
    out, code = sh(as .. vmlab_bin .. " damon status 2>&1")
    local readable = sh(as .. "cat " .. real .. "/nr_kdamonds 2>/dev/null") ~= ""
    if readable then
      t.is(code, 0, "as nobody: readable here")
    else
      t.like(out, "nr_kdamonds: Permission denied", "as nobody on this machine: EACCES")
    end
  else
    t.skip("needs root, setpriv and the user nobody")
  end
else
  t.skip("this machine has no DAMON sysfs interface", 4)
end
os.execute("rm -rf '" .. dir .. "'")
t.done_testing()
