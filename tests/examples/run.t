-- Every example in examples/ runs: exit status 0, within its time limit.
-- A memtoy script (examples/memtoy/*.mt) runs through `vmlab --memtoy`.
local t = require "vmlab.tap"
local vmlab = os.getenv("VMLAB") or "build/vmlab"
local root = (debug.getinfo(1, "S").source:match("^@(.*)/tests/examples/[^/]*$")) or "."

local function list(pattern)
  local p = io.popen("ls " .. pattern .. " 2>/dev/null")
  local files = {}
  for f in p:lines() do files[#files + 1] = f end
  p:close()
  return files
end

local examples = list(root .. "/examples/*.lua")
t.cmp_ok(#examples, ">=", 1, "there are examples")
for _, f in ipairs(examples) do
  local p = io.popen(string.format("cd %s && timeout 300 %s %s 2>&1", root, vmlab, f:sub(#root + 2)))
  local out = p:read("a")
  local ok, _, code = p:close()
  if not t.ok(ok, f:match("[^/]+$") .. " runs") then
    t.diag("exit " .. tostring(code) .. ":\n" .. out:sub(-2000))
  end
end
for _, f in ipairs(list(root .. "/examples/memtoy/*.mt")) do
  local p = io.popen(string.format("cd %s && timeout 120 %s --memtoy %s 2>&1", root, vmlab, f:sub(#root + 2)))
  local out = p:read("a")
  local ok, _, code = p:close()
  if not t.ok(ok, "memtoy/" .. f:match("[^/]+$") .. " runs") then
    t.diag("exit " .. tostring(code) .. ":\n" .. out:sub(-2000))
  end
end
t.done_testing()
