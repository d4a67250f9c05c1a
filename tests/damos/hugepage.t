-- hugepage on a hot 64 MiB anon region raises AnonHugePages where THP is
-- in madvise mode: the scheme (replay backend, apply=true, so that no
-- per-page mprotect splits the huge mappings) marks the region, and the
-- pages faulted in afterwards are huge; nohugepage keeps them small.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"
local effect = require "vmlab.damos_effect"
local MiB = 1 << 20

local f = io.open("/sys/kernel/mm/transparent_hugepage/enabled")
local mode = f and f:read("l") or ""
if f then f:close() end
if not mode:match("%[madvise%]") and not mode:match("%[always%]") then
  t.skip_all("THP is not in madvise or always mode (" .. mode .. ")")
end

local function run(action)
  local s = seg.anon("thp-" .. action, "64m", { align = "2m" })
  local m = damon.monitor { targets = { { start = s.addr, ["end"] = s.addr + s.size } },
    oracle = function() return true end, seed = 1 }
  local sc = m:scheme { action = action, size = { "2m", math.huge }, freq = { 5, 100 }, apply = true }
  m:step(20)
  local st = sc:stats()
  s:touch { op = "write", all = true }
  local huge = effect.smaps(s).AnonHugePages or 0
  sc:close()
  m:close()
  s:close()
  return st, huge
end
local st, huge = run("hugepage")
t.is(st.sz_applied, 64 * MiB, "hugepage applied to the whole hot region")
if mode:match("%[madvise%]") then
  t.cmp_ok(huge, ">=", 32 * MiB, "AnonHugePages " .. huge // MiB .. " MiB after hugepage")
  local _, small = run("nohugepage")
  t.is(small, 0, "and 0 after nohugepage")
else
  t.skip("THP always: hugepage changes nothing", 2)
end
t.done_testing()
