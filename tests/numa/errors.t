-- In the guest: the kernel's errors for placement, returned (nil, message,
-- errno), never raised: strict bind of misplaced pages is EIO, a move to a
-- node without memory ENODEV, a policy naming one EINVAL.
local t = require "vmlab.tap"
t.requires { nodes = 2 }
local numa = require "vmlab.numa"
local g = dofile(arg[0]:match("^(.*/)") .. "guestlib.lua")
local EIO, ENODEV, EINVAL = 5, 19, 22
local N = 16

local function fails(errno, name, ok, msg, err)
  t.ok(ok == nil, name .. ": returns nil")
  t.is(err, errno, name .. ": errno " .. errno)
  return msg
end

g.on_node0()
local s = g.segment("st", N)
s:touch("write")
t.is(g.counts(s:where())[0], N, "pages on node 0")

local msg = fails(EIO, "strict bind {1} of pages on node 0", s:mbind("bind", 1, { flags = "strict" }))
t.like(msg, "^mbind%(seg 'st' %+0 .*bind {1}%): Input/output error", "the message names the call, segment and nodes")
t.is(g.counts(s:where())[0], N, "strict alone moved nothing")
t.ok(s:mbind("bind", 0, { flags = "strict" }), "strict bind {0}: nothing misplaced, no error")
t.ok(s:mbind("bind+strict+move", 1), "strict+move bind {1} moves instead of failing")
t.is(g.counts(s:where())[1], N, "now all on node 1")

msg = fails(ENODEV, "move to node 2 (no such node)", s:move(2))
t.like(msg, "No such device", "message: " .. tostring(msg))
t.is(g.counts(s:where())[1], N, "the failed move left the pages alone")
fails(ENODEV, "move to node 1023", s:move(1023))

fails(EINVAL, "mbind bind {2}", s:mbind("bind", 2))
fails(EINVAL, "mbind interleave {2,3}", s:mbind("interleave", { 2, 3 }))
-- The kernel drops nodes without memory from a policy that names others too.
t.ok(s:mbind("interleave", { 0, 2 }), "mbind interleave {0,2} is accepted")
t.is_deeply(select(2, s:policy()), { 0 }, "as interleave over node 0 alone")
fails(EINVAL, "set_policy bind {3}", numa.set_policy("bind", 3))
t.is((numa.policy()), "default", "the task policy is unchanged")
fails(EINVAL, "migrate to node 2", numa.migrate(2, 1))
t.is(g.counts(s:where())[1], N, "still on node 1")
t.done_testing()
