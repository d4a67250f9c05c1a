-- Helpers the guest scenarios share (loaded with dofile next to the .t).
local vmlab = require "vmlab"
local seg = require "vmlab.seg"
local numa = require "vmlab.numa"
local M = {}

M.ps = vmlab.pagesize()

-- A fresh anonymous segment of n small pages, kept off THP (the Debian
-- kernel has THP "always") and in a VMA of its own (the advice flag keeps
-- it from merging with its neighbours).
function M.segment(name, npages)
  local s = assert(seg.anon(name, npages * M.ps))
  assert(s:advise("nohugepage"))
  return s
end

-- Run on cpu 0 so that "local" means node 0.
function M.on_node0()
  return numa.cpus({ 0 })
end

-- where() as counts: { [node] = pages, absent = n }
function M.counts(where)
  local c = { absent = 0 }
  for _, n in ipairs(where) do
    if n == false then c.absent = c.absent + 1 else c[n] = (c[n] or 0) + 1 end
  end
  return c
end

-- The kernel's own account of the segment's VMA: /proc/self/numa_maps
-- counts per node, read for the VMA that starts at the segment and ends
-- with it (nil and a reason otherwise).
function M.numa_maps(s)
  local vma_end
  for line in io.lines("/proc/self/maps") do
    local a, b = line:match("^(%x+)%-(%x+)")
    if tonumber(a, 16) == s.addr then vma_end = tonumber(b, 16) end
  end
  if vma_end ~= s.addr + s.size then
    return nil, string.format("no VMA of its own at 0x%x (ends at %s)", s.addr, tostring(vma_end))
  end
  for line in io.lines("/proc/self/numa_maps") do
    local a, rest = line:match("^(%x+) (.*)$")
    if a and tonumber(a, 16) == s.addr then
      local c = { policy = rest:match("^(%S+)") }
      for node, pages in rest:gmatch("N(%d+)=(%d+)") do c[tonumber(node)] = tonumber(pages) end
      return c
    end
  end
  return nil, "not in numa_maps"
end

return M
