-- The embedded stdlib: preloaded, chunk names pointing at the source file,
-- and VMLAB_STDLIB_DIR loading it from disk instead.
local t = require "vmlab.tap"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"

t.type_ok(package.preload["vmlab.tap"], "function", "vmlab.tap is in package.preload")
t.type_ok(package.preload["vmlab"], "function", "vmlab (C) is in package.preload")
t.is(debug.getinfo(t.ok, "S").source, "@stdlib/vmlab/tap.lua", "chunk name points at the source file")

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir .. "/vmlab"))
local f = assert(io.open(dir .. "/vmlab/tap.lua", "w"))
f:write('return { from_disk = true }\n')
f:close()
local out = run(string.format("VMLAB_STDLIB_DIR=%s %s -e 'print(require(\"vmlab.tap\").from_disk)'", dir, vmlab_bin))
t.is(out, "true\n", "VMLAB_STDLIB_DIR loads the module from disk")
f = assert(io.open(dir .. "/vmlab/tap.lua", "w"))
f:write('error("broken on purpose")\n')
f:close()
local code
out, code = run(string.format("VMLAB_STDLIB_DIR=%s %s -e 'require(\"vmlab.tap\")'", dir, vmlab_bin))
t.like(out, dir .. "/vmlab/tap.lua:1: broken on purpose", "an error in a disk module names its file and line")
t.is(code, 1, "and exits 1")
os.execute("rm -rf " .. dir)

out = run(vmlab_bin .. [[ -e 'require("vmlab.tap").ok(nil)' ]])
t.like(out, "at %(command line%) line 1", "failures point at the caller, not at tap.lua")
t.done_testing()
