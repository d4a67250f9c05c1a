-- In the guest: interleave spreads pages over both nodes page by page,
-- as a segment's policy (mbind) and as the task's (set_policy).
local t = require "vmlab.tap"
t.requires { nodes = 2 }
local numa = require "vmlab.numa"
local g = dofile(arg[0]:match("^(.*/)") .. "guestlib.lua")
local N = 64

g.on_node0()
local s = g.segment("il", N)
t.ok(s:mbind("interleave", { 0, 1 }), "mbind interleave {0,1} on a fresh segment")
local pol, nodes = s:policy()
t.is(pol, "interleave", "policy() reads it back")
t.is_deeply(nodes, { 0, 1 }, "with both nodes")
t.is(g.counts(s:where()).absent, N, "where(): nothing present before the touch")
t.is((s:touch("write")), N, "touch every page")
local w = s:where()
local alternate = true
for i = 2, N do
  if w[i] == w[i - 1] or (w[i] ~= 0 and w[i] ~= 1) then alternate = false end
end
t.ok(alternate, "consecutive pages alternate between node 0 and node 1")
local c = g.counts(w)
t.is(c[0], N // 2, "half on node 0")
t.is(c[1], N // 2, "half on node 1")
local nm, why = g.numa_maps(s)
t.ok(nm, "numa_maps has the segment's VMA" .. (why and (": " .. why) or ""))
if nm then
  t.like(nm.policy, "^interleave", "numa_maps says interleave")
  t.is(nm[0], c[0], "numa_maps agrees on node 0")
  t.is(nm[1], c[1], "numa_maps agrees on node 1")
end
s:close()

-- The task's policy: a new segment inherits it at first touch.
t.ok(numa.set_policy("interleave", { 0, 1 }), "set_policy interleave {0,1}")
t.is((numa.policy()), "interleave", "numa.policy() reads it back")
local s2 = g.segment("il2", N)
s2:touch("write")
local c2 = g.counts(s2:where())
t.ok(c2[0] == N // 2 and c2[1] == N // 2, "task interleave: " .. tostring(c2[0]) .. "/" .. tostring(c2[1]) .. " pages on 0/1")
t.ok(numa.set_policy("default"), "back to the default policy")
local s3 = g.segment("local", N)
s3:touch("write")
t.is(g.counts(s3:where())[0], N, "default policy on cpu 0: every page on node 0")
t.done_testing()
