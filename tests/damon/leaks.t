-- 100 bad calls to each allocating function of vmlab.damon, vmlab.damon.core,
-- vmlab.damos and vmlab.record leak nothing: memory that lives across a
-- raising call is Lua's.  Checked by LeakSanitizer in `make asan`, and by
-- valgrind in a plain build where it is installed.
local t = require "vmlab.tap"
local vmlab = require "vmlab"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"

local script = os.tmpname()
local f = assert(io.open(script, "w"))
f:write([=[
local damon = require "vmlab.damon"
local core = require "vmlab.damon.core"
local damos = require "vmlab.damos"
local rec = require "vmlab.record"
local base = 0x100000000
local good = {}
for i = 0, 99 do good[#good + 1] = { start = i * 4096, ["end"] = (i + 1) * 4096 } end
local bad = {}
for i = 0, 99 do bad[#bad + 1] = { start = i * 4096, ["end"] = (i + 1) * 4096 } end
bad[50] = { start = 1, ["end"] = 0 }
local pattern = {}
for i = 1, 100 do pattern[i] = { start = base, ["end"] = base + 4096 } end
pattern[60] = { start = base, ["end"] = base + 4096, p = 2 }
local snap = { time_us = 1, targets = { { id = 1, regions = good } } }
local badsnap = { time_us = 2, targets = { { id = 1, regions = bad } } }
local m = damon.monitor { targets = { { start = base, ["end"] = base + (64 << 20) } },
  oracle = { { start = base, ["end"] = base + 4096 } } }
local calls = {
  function() damon.monitor { targets = { { start = base, ["end"] = base + (64 << 20) } }, oracle = pattern } end,
  function() assert(damon.monitor { targets = { { start = base, ["end"] = base + (64 << 20) } },
    oracle = { { start = base, ["end"] = base + 4096 } }, record = "/nonexistent/dir/r.json" }) end,
  function() damon.monitor { targets = { { start = base, ["end"] = base + (64 << 20) }, { start = 1 } },
    oracle = { { start = base, ["end"] = base + 4096 } } } end,
  function() m:scheme { action = "stat", filters = { { type = "addr" }, { type = "memcg" } } } end,
  function() m:snapshots { count = 1, bogus = 1 } end,
  function() core.merge_regions(bad, 1, 1 << 30) end,
  function() core.set_regions(good, bad) end,
  function() core.set_regions(bad, good) end,
  function() core.split_regions(bad, 2) end,
  function() core.three_regions(bad) end,
  function() rec.write("/nonexistent/x", { snap, badsnap }) end,
  function() rec.open("/nonexistent/x", { format = "yaml" }) end,
  function() local w = rec.open("/nonexistent/x") w:add(snap) w:add(badsnap) end,
  function() assert(damos.parse("this is no rule")) end,
}
for i, fn in ipairs(calls) do
  for _ = 1, 100 do assert(not pcall(fn), "bad call " .. i .. " did not raise") end
end
m:close()
collectgarbage()
print("done")
]=])
f:close()

local cmd
if vmlab.sanitized then
  cmd = vmlab_bin .. " " .. script
elseif os.execute("command -v valgrind >/dev/null 2>&1") then
  cmd = "valgrind -q --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite " ..
    "--error-exitcode=9 " .. vmlab_bin .. " " .. script
else
  os.remove(script)
  t.skip_all("neither a sanitized build nor valgrind here")
end
local p = io.popen(cmd .. " 2>&1")
local out = p:read("a")
local ok, how, code = p:close()
os.remove(script)
t.like(out, "done", "the 1400 bad calls all raised")
t.ok(ok, "no leak reported (" .. tostring(how) .. " " .. tostring(code) .. ")")
if not ok then t.diag(out) end
t.done_testing()
