-- The prot backend and the seg engine: protection belongs to the segment.
-- A running prot monitor arms sampled pages PROT_NONE and restores them;
-- it learns of protect and unmap through the seg engine's listeners, so it
-- never restores a stale protection, and an unmapped segment's sampling
-- stops without a fault.  Its slot table grows past its first capacity,
-- raw ranges over the runtime's own memory are refused with the reason,
-- and the fault-hook limit says so.
local t = require "vmlab.tap"
local vmlab = require "vmlab"
local seg = require "vmlab.seg"
local damon = require "vmlab.damon"
local ps = vmlab.pagesize()

-- The mappings of [addr, addr+size) as {perms=bytes}.
local function perms_of(addr, size)
  local out = {}
  for _, e in ipairs(seg.maps()) do
    local s, en = math.max(e.start, addr), math.min(e["end"], addr + size)
    if s < en then out[e.perms:sub(1, 3)] = (out[e.perms:sub(1, 3)] or 0) + (en - s) end
  end
  return out
end

-- 1. s:protect("r") under a running monitor: every page read-only, for good.
local s = seg.anon("watched", "4m")
s:touch("write")
local m = damon.monitor { targets = { s }, sample = "1ms", aggr = "20ms", min_regions = 64, max_regions = 200,
  budget = 0.5 }
m:start()
vmlab.snooze(0.05)
s:protect("r")
for _ = 1, 20 do
  s:touch("read")           -- faults on armed pages: the hook restores them
  vmlab.snooze(0.01)
end
local p = perms_of(s.addr, s.size)
t.is(p["rw-"], nil, "after protect('r') under a prot monitor no page is writable")
-- (maps is read while the sampler re-arms pages: a line may be seen twice)
t.cmp_ok((p["r--"] or 0) + (p["---"] or 0), ">=", s.size, "every page is read-only (or armed)")
t.cmp_ok(m:stats().faults, ">", 0, "the monitor kept sampling (faults seen)")
t.error_like(function() s:touch("write") end, "access not permitted", "a write raises, as the protection says")
s:protect("rw", { offset = "1m", length = "1m" })
vmlab.snooze(0.05)
for _ = 1, 10 do s:touch("read") vmlab.snooze(0.01) end
p = perms_of(s.addr + (1 << 20), 1 << 20)
t.is(p["r--"], nil, "a part made writable again stays writable")
t.is(perms_of(s.addr, 1 << 20)["rw-"], nil, "and the rest stays read-only")
s:protect("rw")

-- 1b. A protect that lands between a sample's check and the next prepare
-- once re-armed pages the check had restored; two samples later no
-- generation held them and the next touch was a "real" fault (page ---).
-- Fast sampling and a protect+touch loop hit that window within a few
-- hundred rounds before the fix.
do
  local w = seg.anon("flipped", "4m")
  w:touch("write")
  local mw = damon.monitor { targets = { w }, sample = "100us", aggr = "2ms", update = "4ms", min_regions = 200,
    max_regions = 1000, budget = 1 }
  mw:start()
  local bad
  for i = 1, 1500 do
    w:protect(i % 2 == 0 and "rw" or "r")
    local ok, err = pcall(w.touch, w, "read")
    if not ok then bad = "round " .. i .. ": " .. tostring(err) break end
  end
  mw:close()
  w:unmap()
  t.ok(not bad, "1500 protects under fast sampling: every read touch succeeds" .. (bad and (" (" .. bad .. ")") or ""))
end

-- 2. Unmapping a watched segment: sampling of it stops, nothing is restored
-- onto whatever is mapped there next.
local addr, size = s.addr, s.size
s:unmap()
local again = seg.anon("again", size, { addr = addr })
t.is(again.addr, addr, "a new segment where the watched one was")
again:touch("write")
vmlab.snooze(0.1)
t.ok(pcall(again.touch, again, "write"), "writing it never faults: no stale arming or restore")
t.is(perms_of(again.addr, again.size)["rw-"], size, "its pages keep their own protection")
local faults = m:stats().faults
t.ok(m:stop() ~= false, "the monitor stops cleanly after its target went away")
t.is(m:stats().faults, faults, "no fault counted for the unmapped target since")
m:close()
again:close()
s:close()

-- Removing (not only unmapping) a watched segment, while sampling.
local r = seg.anon("removed", "1m")
local rm = damon.monitor { targets = { r }, sample = "1ms", aggr = "10ms", budget = 0.5 }
rm:start()
vmlab.snooze(0.03)
r:close()
vmlab.snooze(0.03)
t.ok(rm:stop() ~= false, "a monitor whose segment was removed stops cleanly")
rm:close()

-- 3. The slot table grows: 150 targets at max_regions=10 need 600 slots,
-- more than the first capacity (3 * max + 64); every target is sampled.
local segs = {}
for i = 1, 150 do
  segs[i] = seg.anon("c" .. i, "4p")
  segs[i]:touch()
end
local cm = damon.monitor { targets = segs, sample = "1ms", aggr = "10ms", min_regions = 3, max_regions = 10 }
for _ = 1, 30 do
  cm:step(1)
  for _, c in ipairs(segs) do c:touch("read") end
end
local snap, unsampled = cm:snapshot(), 0
for _, tg in ipairs(snap.targets) do
  local acc = 0
  for _, reg in ipairs(tg.regions) do acc = acc + reg.nr_accesses end
  if acc == 0 then unsampled = unsampled + 1 end
end
t.is(#snap.targets, 150, "150 targets")
t.is(unsampled, 0, "every target sampled past the table's first capacity")
cm:close()
for _, c in ipairs(segs) do c:close() end

-- 4. Raw ranges: the runtime's own memory and holes are refused, by reason.
local heap
for _, e in ipairs(seg.maps()) do
  if e.path == "[heap]" then heap = e end
end
local function refused(targets, pattern, name)
  t.error_like(function() damon.monitor { targets = targets } end, pattern, name)
end
refused({ { start = 0, ["end"] = ps } }, "target 1: 0x0%-0x%x+ is not mapped", "address 0 refused")
refused({ { start = 0, ["end"] = 1 << 47 } }, "is not mapped", "the whole address space refused")
if heap then
  refused({ { start = heap.start, ["end"] = heap["end"] } }, "runtime's own memory %(%[heap%]%)", "the heap refused")
  local hw = seg.wrap("heapwrap", heap.start, ps)
  refused({ hw }, "runtime's own memory", "a wrap of the heap refused")
  hw:close()
else
  t.skip("no [heap] mapping", 2)
end
local stack
for _, e in ipairs(seg.maps()) do
  if e.path == "[stack]" then stack = e end
end
refused({ { start = stack.start, ["end"] = stack["end"] } }, "%[stack%]", "the stack refused")
local libc
for _, e in ipairs(seg.maps()) do
  if not libc and e.path and e.path:match("libc") then libc = e end
end
refused({ { start = libc.start, ["end"] = libc["end"] } }, "runtime's own memory %(.*libc", "a library refused")
local mixed = seg.anon("mixed", "64k")
refused({ { start = mixed.addr, ["end"] = mixed.addr + mixed.size + ps } }, "target 1: ", "a range running past a segment refused")
refused({ mixed, { start = 0, ["end"] = ps } }, "target 2: ", "the bad target is named")
t.error_like(function() seg.wrap("bogus", ps, ps) end, "is not all mapped", "seg.wrap of nothing refused")
-- addresses are unsigned 64-bit: Lua writes 0xfffffffffffff000 as -4096
t.error_like(function() seg.wrap("top", 0xfffffffffffff000, 2 * ps) end, "wraps past the top",
  "seg.wrap past the top of the address space refused")
t.error_like(function() seg.wrap("top2", "0xfffffffffffff000", "8k") end, "wraps past the top",
  "also with the address as a hex string")
local ok_raw = damon.monitor { targets = { { start = mixed.addr, ["end"] = mixed.addr + mixed.size } } }
t.ok(ok_raw, "a raw range over a segment is accepted")
ok_raw:close()
mixed:close()

-- 5. The fault-hook limit names itself.
local lim = seg.anon("limit", "64k")
local mons, err = {}, nil
for i = 1, 9 do
  local mon, e = damon.monitor { targets = { lim } }   -- a limit: nil, message, errno
  if mon then mons[i] = mon else err = e break end
end
t.is(#mons, 8, "eight prot monitors at once")
t.like(err, "8 prot monitors run already: the limit of the runtime's fault hooks", "the ninth says why")
t.unlike(err or "", "No space left", "not ENOSPC")
for _, mon in ipairs(mons) do mon:close() end
t.ok(damon.monitor { targets = { lim } }, "after closing them, a new one attaches")
lim:close()
t.done_testing()
