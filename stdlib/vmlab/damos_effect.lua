-- vmlab.damos_effect: what a scheme did, as the kernel reports it.
--   effect.smaps(seg_or_range) -> { Rss=, AnonHugePages=, Locked=, ... } bytes
--     summed over the VMAs overlapping [addr, addr+size) (mprotect and
--     madvise split a segment's VMA into many); page sizes (KernelPageSize,
--     MMUPageSize) are not sizes to add: the largest is kept; partial=true when one
--     reaches outside (the kernel merged it with a neighbour: its figures
--     then include the neighbour's)
--   effect.rss() -> the process's resident bytes (VmRSS)
--   effect.residency(seg) -> fraction of the segment's pages resident
local M = {}

-- fields that are a VMA's page size, not an amount of memory
local PAGE_SIZES = { KernelPageSize = true, MMUPageSize = true }

local function bounds(x)
  if type(x) == "table" and x.start then return x.start, x["end"] end
  return x.addr, x.addr + x.size
end

function M.smaps(x)
  local lo, hi = bounds(x)
  local f, err = io.open("/proc/self/smaps")
  if not f then return nil, err end
  local out, inside = { vmas = 0 }, false
  for line in f:lines() do
    local a, b = line:match("^(%x+)%-(%x+) ")
    if a then
      a, b = tonumber(a, 16), tonumber(b, 16)
      inside = a < hi and b > lo
      if inside then
        out.vmas = out.vmas + 1
        if a < lo or b > hi then out.partial = true end
      end
    elseif inside then
      local k, v = line:match("^(%w+):%s+(%d+) kB")
      if k and PAGE_SIZES[k] then
        out[k] = math.max(out[k] or 0, tonumber(v) * 1024)
      elseif k then
        out[k] = (out[k] or 0) + tonumber(v) * 1024
      end
    end
  end
  f:close()
  return out
end

function M.rss()
  local f, err = io.open("/proc/self/status")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  local kb = s:match("VmRSS:%s+(%d+) kB")
  return kb and tonumber(kb) * 1024
end

function M.residency(seg)
  local res, total = seg:resident()
  if not res then return nil, total end
  return res / total
end

return M
