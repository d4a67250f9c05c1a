-- proc: replies of any size and shape come back whole; what cannot be
-- sent is an error reply, never a dead child; kick() signals only this
-- session's children.
local t = require "vmlab.tap"
local proc = require "vmlab.proc"

local c = proc.child("robust")

-- Big replies (the encoder once kept lua_next's key and value above a
-- luaL_Buffer that moved when it grew: SIGSEGV or a corrupt reply).
local r, err = c:eval("local t = {} for i = 1, 200 do t[i] = i end return t")
t.is(type(r), "table", "a 200-entry table comes back: " .. tostring(err))
t.is(r and #r, 200, "whole")
t.is(r and r[200], 200, "last entry intact")
r, err = c:eval("return {string.rep('x', 2000)}")
t.is(r and r[1], string.rep("x", 2000), "a 2000-byte string in a table comes back intact: " .. tostring(err))
r, err = c:eval([[
  local t = {} local p = t
  for i = 1, 30 do p.next = { i = i, pad = string.rep("y", 100), list = { i, i * 2 } } p = p.next end
  return t]])
local depth, p = 0, r
while p and p.next do depth, p = depth + 1, p.next end
t.is(depth, 30, "a 30-deep nested table comes back: " .. tostring(err))
t.is(p and p.list[2], 60, "with its innermost values")
r = c:eval("local t = {} for i = 1, 50000 do t['k' .. i] = { i, tostring(i) } end return t")
t.is(r and r.k50000 and r.k50000[2], "50000", "50000 nested entries (about 1 MiB)")
local a, b, cc = c:eval("return 1, 'two', {3}")
t.is_deeply({ a, b, cc }, { 1, "two", { 3 } }, "several results")
local shared = c:eval("local s = {1} return {s, s}")
t.is_deeply(shared, { { 1 }, { 1 } }, "a table met twice (not a cycle) is sent twice")

-- What cannot be sent: an error reply naming why, and the child lives on.
r, err = c:eval("local t = {} t.self = t return t")
t.is(r, nil, "a cyclic table is not sent")
t.like(err, "cannot send a result: a table that contains itself", "saying it has a cycle")
r, err = c:eval("local t = {} for i = 1, 40 do t = { t } end return t")
t.like(err, "nested deeper than 32 levels", "too deep is an error")
r, err = c:eval("return setmetatable({}, {__name = 'x'}), io.stdout")
t.ok(r, "userdata are sent as they print: " .. tostring(err))
r, err = c:eval("local u = setmetatable({}, {__tostring = function() error('no print') end}) return { k = io.stdout }")
t.ok(r, "a table holding userdata is sent")
t.is(c:eval("return 'still here'"), "still here", "the child answers after all of these")
t.ok(c:alive(), "and is alive")

-- kick: a positive pid of this session's running children only.
local kick = proc.kick
t.error_like(function() kick(4294967295, 0) end, "pid 4294967295 is not a process id",
  "a pid past 32 bits is refused (it was kill(-1): every process)")
t.error_like(function() kick(0, 0) end, "pid 0 is not a process id", "0 (the process group) refused")
t.error_like(function() kick(-1, 0) end, "pid %-1 is not a process id", "-1 (every process) refused")
t.error_like(function() kick(-c.pid, 0) end, "is not a process id", "a negative pid (a group) refused")
t.error_like(function() kick(1, 0) end, "pid 1 is not a child of this session", "init is not ours")
t.error_like(function() kick(require("vmlab").pid(), 0) end, "not a child of this session", "nor are we")
t.ok(kick(c.pid, 0), "our child is")
local f = proc.fork(function() return 0 end)
t.ok(f:wait(5), "a fork that ended")
local ok, msg = kick(f.pid, 0)
t.is(ok, nil, "an ended child is not signalled (its pid may be reused)")
t.like(msg, "has ended", "saying so")
c:close()
t.error_like(function() kick(c.pid, 0) end, "not a child of this session", "a closed child is not ours any more")
t.done_testing()
