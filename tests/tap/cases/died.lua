local t = require "vmlab.tap"
t.plan(2)
t.pass("one")
t.pass("two")
error("died after the plan was met")
