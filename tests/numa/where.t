-- In the guest: where() tells the truth, checked against move_pages'
-- statuses, the pagemap and /proc/self/numa_maps, with pages absent,
-- on node 0 and on node 1 in one segment.
local t = require "vmlab.tap"
t.requires { nodes = 2 }
local g = dofile(arg[0]:match("^(.*/)") .. "guestlib.lua")
local N = 48
local ENOENT, EFAULT = 2, 14

g.on_node0()
local s = g.segment("wh", N)
-- Pages 1, 4, 7, ... on node 0; then every sixth page moved to node 1.
local touched = 0
for i = 0, N - 1, 3 do touched = touched + s:touch({ op = "write", offset = i * g.ps, length = g.ps }) end
t.is(touched, N // 3, "touch every third page")
for i = 0, N - 1, 6 do
  local n = s:move(1, { offset = i * g.ps, length = g.ps })
  if n ~= 0 then t.fail("move page " .. i) end
end
local want = {}
for i = 0, N - 1 do
  if i % 3 ~= 0 then want[i + 1] = false
  elseif i % 6 == 0 then want[i + 1] = 1
  else want[i + 1] = 0 end
end
local w = s:where()
t.is_deeply(w, want, "where(): absent, node 1 and node 0 pages where they were put")

local pages = s:pages()
local agree = true
for i = 1, N do
  if pages[i].present ~= (w[i] ~= false) then agree = false end
end
t.ok(agree, "where() and the pagemap agree on which pages are present")

-- move_pages' statuses: moving to node 0 reports each present page's new
-- node, and a negative errno for absent ones (-EFAULT from the kernel's
-- FOLL_DUMP lookup of a page never touched, -ENOENT in some versions).
local left, status = s:move(0)
t.is(left, 0, "move(0) of everything")
local bad = {}
for i = 1, N do
  local okst
  if w[i] == false then okst = status[i] == -ENOENT or status[i] == -EFAULT
  else okst = status[i] == 0 end
  if not okst then bad[#bad + 1] = i .. "=" .. tostring(status[i]) end
end
t.is(table.concat(bad, " "), "", "move statuses: 0 for present pages, -ENOENT/-EFAULT for absent ones")
local c = g.counts(s:where())
t.is(c[0], N // 3, "where() after the move: all present pages on node 0")
t.is(c.absent, N - N // 3, "and the absent ones still absent (where does not fault them in)")
local nm = g.numa_maps(s)
t.is(nm and nm[0], N // 3, "numa_maps counts the same on node 0")
t.is(nm and nm[1], nil, "and nothing on node 1")
local cnt = s:numa_counts()
t.is(cnt[0], N // 3, "numa_counts() agrees")
t.is(cnt.absent, N - N // 3, "numa_counts() absent")
t.done_testing()
