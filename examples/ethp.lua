-- ethp: the seed's efficient THP, "Use huge pages if a region >2MB shows
-- >5% access rate, use regular pages if a region >2MB shows <5% access
-- rate for >1 second", parsed from the seed's own text, on a 64 MiB anon
-- segment of which a workload keeps 16 MiB hot.  With THP in madvise mode
-- the hot part gets huge pages as it faults in; the example prints the
-- segment's AnonHugePages from /proc/self/smaps.
local damon = require "vmlab.damon"
local damos = require "vmlab.damos"
local seg = require "vmlab.seg"
local wl = require "vmlab.workload"
local vmlab = require "vmlab"
local MiB = 1 << 20

local rules = assert(damos.parse [[
# ethp: Use huge pages if a region >2MB shows >5% access rate, use regular
# pages if a region >2MB shows <5% access rate for >1 seconds.
2M null    5 null    null null    hugepage
2M null    null 5    1s null      nohugepage
# not in the seed: collapse what is hot now instead of waiting for khugepaged
2M null    5 null    null null    collapse
]])

-- a field of /proc/self/smaps summed over the VMAs inside [lo, hi) (the
-- sampler's and the schemes' mprotect/madvise split the segment's VMA)
local function smaps(lo, hi, field)
  local f = io.open("/proc/self/smaps")
  if not f then return 0 end
  local inside, v = false, 0
  for line in f:lines() do
    local a, b = line:match("^(%x+)%-(%x+) ")
    if a then
      a, b = tonumber(a, 16), tonumber(b, 16)
      inside = a >= lo and b <= hi
    elseif inside and line:match("^" .. field .. ":") then
      v = v + tonumber(line:match("(%d+) kB")) * 1024
    end
  end
  f:close()
  return v
end

local thp = io.open("/sys/kernel/mm/transparent_hugepage/enabled")
local mode = thp and thp:read("l") or "unknown"
if thp then thp:close() end
print("THP: " .. mode)
local s = seg.anon("ethp", "64m", { align = "2m" })
local hot_off = 16 * MiB
local w = wl.new { target = s, pattern = "hotspot", hot = { offset = hot_off, length = "16m" }, hot_share = 1,
  op = "write" }
s:touch { op = "write", offset = 0, length = "16m" }    -- the cold part: present, then idle
local m = damon.monitor { targets = { s }, sample = "5ms", aggr = "50ms", budget = 0.3, min_regions = 32, seed = 1 }
local hp = m:scheme(rules[1])
local np = m:scheme(rules[2])
local cp = m:scheme(rules[3])
local t0 = vmlab.now()
local before = smaps(s.addr, s.addr + s.size, "AnonHugePages")
w:start()
m:start()
vmlab.snooze("1.5s")
m:stop()
w:close()
local after = smaps(s.addr, s.addr + s.size, "AnonHugePages")
for i, sc in ipairs { hp, np, cp } do
  local st = sc:stats()
  print(string.format("rule %d (%s): tried %d regions, applied %d MiB", i, rules[i].action, st.nr_tried, st.sz_applied // MiB))
end
print(string.format("AnonHugePages: %d MiB -> %d MiB of 64 MiB in %.1f s (rss %d MiB)", before // MiB, after // MiB,
  vmlab.now() - t0, smaps(s.addr, s.addr + s.size, "Rss") // MiB))
if after == 0 then
  print("note: no huge pages seen: the prot sampler mprotects single pages, which splits huge PMD\n" ..
    "mappings, so AnonHugePages under-reports while it samples")
end
hp:close(); np:close(); cp:close()
m:close()
s:close()
