local t = require "vmlab.tap"
t.plan(3)
t.pass("one")
t.BAIL_OUT("the machine is on fire")
t.pass("never")
