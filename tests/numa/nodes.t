-- In the guest: the two nodes QEMU was told to make, as vmlab.numa sees them.
local t = require "vmlab.tap"
local numa = require "vmlab.numa"
t.requires { nodes = 2 }

t.ok(numa.available(), "the kernel has NUMA policies")
local nodes = assert(numa.nodes())
t.is(#nodes, 2, "two nodes")
for i, want_cpus in ipairs { "0", "1" } do
  local n = nodes[i]
  t.is(n.id, i - 1, "node " .. (i - 1) .. " listed in order")
  t.is(n.cpus, want_cpus, "node " .. n.id .. " has cpu " .. want_cpus)
  -- 256 MiB each, less what the kernel keeps for itself.
  t.cmp_ok(n.total, ">", 200 * 2^20, "node " .. n.id .. " has most of its 256 MiB")
  t.cmp_ok(n.total, "<=", 256 * 2^20, "and no more")
  t.cmp_ok(n.free, "<", n.total, "some of it in use")
  t.is(n.distances[n.id], 10, "distance to itself is 10")
  t.is(n.distances[1 - n.id], 20, "to the other node 20")
end
t.is_deeply(numa.online(), { 0, 1 }, "online nodes")
t.is_deeply(numa.mems(), { 0, 1 }, "the task may use both")
t.done_testing()
