-- vmlab's demo: a short tour that prints a readable report.
-- Run with `make demo` (or build/vmlab examples/demo.lua).
local vmlab = require "vmlab"

local function has(mod)
  return package.preload[mod] ~= nil
end

print(string.format("vmlab %s: page size %s", vmlab.version, vmlab.fmtsize(vmlab.pagesize())))
print(string.format("sizes: '64m' is %d bytes, '16p' is %s", vmlab.size("64m"), vmlab.fmtsize(vmlab.size("16p"))))
print("modules in this build:")
local mods = {}
for name in pairs(package.preload) do
  if name:match("^vmlab") then mods[#mods + 1] = name end
end
table.sort(mods)
print("  " .. table.concat(mods, " "))
if not has("vmlab.seg") then
  print("(segments, the sampler and pools are not in this build yet)")
end
