-- In the guest: bind with move moves pages, numa.migrate moves them back,
-- move() moves pages one call at a time, and the data survives each move.
local t = require "vmlab.tap"
t.requires { nodes = 2 }
local numa = require "vmlab.numa"
local g = dofile(arg[0]:match("^(.*/)") .. "guestlib.lua")
local N = 64

local function on(s, node, what)
  local c = g.counts(s:where())
  t.is(c[node], N, what .. ": all " .. N .. " pages on node " .. node ..
    " (0: " .. tostring(c[0]) .. ", 1: " .. tostring(c[1]) .. ", absent " .. c.absent .. ")")
end

g.on_node0()
local s = g.segment("mv", N)
t.ok(s:fill({ seed = 7 }), "fill on cpu 0")
on(s, 0, "first touch")

-- bind without move leaves the pages where they are.
t.ok(s:mbind("bind", 1), "mbind bind {1} without move")
on(s, 0, "bind alone")
t.ok(s:mbind("bind", 1, { flags = "move" }), "mbind bind {1} with move")
on(s, 1, "bind+move")
local pol, nodes = s:policy()
t.is(pol, "bind", "policy() is bind")
t.is_deeply(nodes, { 1 }, "to node 1")
t.ok(s:verify({ seed = 7 }), "the data moved with the pages")
local nm = g.numa_maps(s)
t.is(nm and nm[1], N, "numa_maps agrees: N1=" .. N)

-- migrate_pages moves the task's pages back whatever the VMA's policy.
local left = numa.migrate(0, 1)
t.is(left, 0, "numa.migrate(0, 1) leaves no page behind")
on(s, 0, "after migrate")
t.ok(s:verify({ seed = 7 }), "the data survived the migration")

-- move_pages, part of the segment, then all of it.
local half = N // 2 * g.ps
local notmoved, status = s:move(1, { offset = half })
t.is(notmoved, 0, "move(1) of the second half: nothing left behind")
t.is(#status, N // 2, "one status a page")
local allone = true
for _, st in ipairs(status) do if st ~= 1 then allone = false end end
t.ok(allone, "every status says node 1")
local w = s:where()
t.ok(w[1] == 0 and w[N // 2] == 0 and w[N // 2 + 1] == 1 and w[N] == 1, "where(): first half on 0, second on 1")
t.is(g.counts(w)[1], N // 2, "exactly half on node 1")
t.is((s:move(0)), 0, "move(0) of the whole segment")
on(s, 0, "move back")
t.ok(s:verify({ seed = 7 }), "the data survived both moves")

-- migrate with nothing on the source node moves nothing.
t.is(numa.migrate(1, 1), 0, "migrate(1, 1) is a no-op")
on(s, 0, "unchanged")
t.done_testing()
