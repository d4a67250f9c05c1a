local t = require "vmlab.tap"
t.plan(4)
t.todo("not yet", function()
  t.ok(false, "known failure")
  t.ok(true, "unexpected pass")
end)
t.skip("no widget", 1)
t.pass("real")
