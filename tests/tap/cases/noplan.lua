local t = require "vmlab.tap"
t.pass("one")
