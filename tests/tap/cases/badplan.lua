local t = require "vmlab.tap"
t.plan(3)
t.pass("one")
