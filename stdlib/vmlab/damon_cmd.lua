-- `vmlab damon status`: the kernel's kdamonds as `damo status` lists them
-- (state, contexts, operations, targets, attributes, schemes with their
-- stats and tried regions), read from sysfs by vmlab.damon.status, which
-- never writes: a kdamond vmlab did not start is safe to look at.  The
-- stats are what the kdamond's owner last asked the kernel to update.
local vmlab = require "vmlab"
local status = require "vmlab.damon.status"
local M = {}

local function size(v)
  if v == nil then return "?" end
  if v == math.huge then return "max" end
  return vmlab.fmtsize(v)
end
local function num(v)
  if v == nil then return "?" end
  if v == math.huge or v >= 4294967295 then return "max" end
  return tostring(v)
end
local function us(v)
  if v == nil then return "?" end
  if v >= 1000000 and v % 1000 == 0 then return string.format("%g s", v / 1e6) end
  if v >= 1000 then return string.format("%g ms", v / 1e3) end
  return v .. " us"
end

-- The status as lines of text (a list), for the terminal and for tests.
function M.format(st)
  local out = {}
  local function say(indent, fmt, ...) out[#out + 1] = string.rep("  ", indent) .. string.format(fmt, ...) end
  say(0, "DAMON sysfs at %s: %d kdamond(s)", st.root, #st.kdamonds)
  for _, kd in ipairs(st.kdamonds) do
    say(0, "kdamond %d: %s%s%s", kd.index, kd.state, kd.pid and (", pid " .. kd.pid) or "",
      kd.refresh_ms and (", refresh " .. kd.refresh_ms .. " ms") or "")
    for ci, c in ipairs(kd.contexts) do
      local a = c.attrs
      say(1, "context %d: operations %s (available: %s)", ci - 1, c.operations ~= "" and c.operations or "none",
        table.concat(c.avail_operations, " "))
      say(2, "intervals: sample %s, aggr %s, update %s; regions %s..%s", us(a.sample_us), us(a.aggr_us),
        us(a.update_us), num(a.min_nr_regions), num(a.max_nr_regions))
      for ti, t in ipairs(c.targets) do
        local rs = {}
        for _, r in ipairs(t.regions) do rs[#rs + 1] = string.format("0x%x-0x%x", r.start, r["end"]) end
        say(2, "target %d: %s%s", ti - 1, t.pid and ("pid " .. t.pid) or "physical memory",
          #rs > 0 and (", regions " .. table.concat(rs, " ")) or "")
      end
      for si, s in ipairs(c.schemes) do
        local ap, q, w, stt = s.access_pattern, s.quotas, s.watermarks, s.stats
        say(2, "scheme %d: action %s%s%s", si - 1, s.action,
          s.apply_interval_us and s.apply_interval_us > 0 and (", apply every " .. us(s.apply_interval_us)) or "",
          s.target_nid and (", target node " .. s.target_nid) or "")
        say(3, "access pattern: size %s..%s, nr_accesses %s..%s, age %s..%s", size(ap.sz.min), size(ap.sz.max),
          num(ap.nr_accesses.min), num(ap.nr_accesses.max), num(ap.age.min), num(ap.age.max))
        say(3, "quotas: %s ms, %s per %s ms%s; weights size %d, accesses %d, age %d (permil)", num(q.ms),
          q.bytes > 0 and size(q.bytes) or "0 B", num(q.reset_interval_ms),
          q.effective_bytes and (" (effective " .. size(q.effective_bytes) .. ")") or "",
          q.weights.sz_permil, q.weights.nr_accesses_permil, q.weights.age_permil)
        for gi, g in ipairs(q.goals) do
          say(4, "goal %d: %s %s (now %s)%s", gi - 1, g.metric, num(g.target_value), num(g.current_value),
            g.nid and (", node " .. g.nid) or "")
        end
        if w.metric ~= "none" and w.metric ~= "" then
          say(3, "watermarks: %s every %s, high %d, mid %d, low %d", w.metric, us(w.interval_us), w.high, w.mid, w.low)
        else
          say(3, "watermarks: none")
        end
        for fi, f in ipairs(s.filters) do
          local what = f.type == "memcg" and (" " .. (f.memcg_path or "")) or
            f.type == "addr" and string.format(" 0x%x-0x%x", f.addr_start, f.addr_end) or
            f.type == "target" and (" " .. tostring(f.target_idx)) or ""
          say(3, "filter %d (%s): %s%s, %smatching%s", fi - 1, f.kind, f.type, what, f.matching and "" or "not ",
            f.allow == nil and "" or (f.allow and ", allow" or ", reject"))
        end
        say(3, "stats: tried %d regions (%s), applied %d (%s), quota exceeded %d time(s)%s", stt.nr_tried,
          size(stt.sz_tried), stt.nr_applied, size(stt.sz_applied), stt.qt_exceeds,
          stt.sz_ops_filter_passed and (", ops filters passed " .. size(stt.sz_ops_filter_passed)) or "")
        if s.tried_regions then
          say(3, "tried regions: %d, %s total", #s.tried_regions, size(s.tried_regions.total_bytes))
          for _, r in ipairs(s.tried_regions) do
            say(4, "0x%x-0x%x (%s): nr_accesses %d, age %d", r.start, r["end"], size(r["end"] - r.start),
              r.nr_accesses, r.age)
          end
        end
      end
    end
  end
  return out
end

local usage = [[
usage: vmlab damon status [--root DIR]
  lists the kernel's kdamonds (state, contexts, operations, targets,
  attributes, schemes, their stats and tried regions) from DAMON's sysfs
  interface (/sys/kernel/mm/damon/admin, or DIR, or $VMLAB_DAMON_SYSFS),
  reading only.  Needs read access to it (root, usually).
]]

function M.main(cmd, ...)
  local args = { ... }
  if cmd == nil or cmd == "-h" or cmd == "--help" then
    io.stdout:write(usage)
    return cmd == nil and 1 or 0
  end
  if cmd ~= "status" then
    io.stderr:write("vmlab damon: unknown command '", tostring(cmd), "'\n", usage)
    return 1
  end
  local opts, i = {}, 1
  while i <= #args do
    if args[i] == "--root" and args[i + 1] then opts.root = args[i + 1]; i = i + 2
    else
      io.stderr:write("vmlab damon status: unknown argument '", tostring(args[i]), "'\n", usage)
      return 1
    end
  end
  local st, err = status.kernel_status(opts)
  if not st then
    io.stderr:write("vmlab damon status: ", err, "\n")
    return 1
  end
  io.stdout:write(table.concat(M.format(st), "\n"), "\n")
  return 0
end

return M
