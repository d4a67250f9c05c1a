local t = require "vmlab.tap"
t.ok(true, "first")
t.is(1, 2, "one is two")
t.is_deeply({ a = { 1, { x = 3 } } }, { a = { 1, { x = 4 } } }, "deep")
t.like("quote \" and \\ and\nnewline", "^nomatch", "yaml quoting")
t.done_testing()
