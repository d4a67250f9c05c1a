-- Limits say which limit: the fault hook table (prot monitors at once) and
-- the monitor's hook table (schemes and its record).
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local seg = require "vmlab.seg"

local s = seg.anon("limits", "1m")
s:touch("write")
local ms, err, errno = {}, nil, nil
for i = 1, 20 do
  local m
  m, err, errno = damon.monitor { targets = { s } }
  if not m then break end
  ms[i] = m
end
t.ok(#ms >= 1 and #ms < 20, "prot monitors are bounded (" .. #ms .. " at once)")
t.like(err, "the limit of the runtime's fault hooks", "the refusal names the fault hook table (" .. tostring(err) .. ")")
t.is(errno, 16, "with EBUSY (the limit, not a lack of space)")
for _, m in ipairs(ms) do m:close() end
local again = damon.monitor { targets = { s } }
t.ok(again, "closing them frees their hooks")
again:close()
t.is((s:touch("read")), 256, "every page readable after")
s:close()
t.done_testing()
