-- The README's command sequences run through `vmlab --memtoy`, their output
-- compared line by line with what memtoy 0.x prints (segment.c's
-- show_one_segment, segment_touch, segment_lock_unlock, segment_mbind,
-- segment_location; commands.c's numa_info, show_pid, child_spawn,
-- children_list).  Addresses, timings, pids and node numbers are masked;
-- a page not present is '-' where memtoy's get_mempolicy faulted it in.
local t = require "vmlab.tap"
local vmlab = require "vmlab"
local bin = os.getenv("VMLAB") or "build/vmlab"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Run a script; its output (stdout and stderr in order) as masked lines,
-- and the exit status.
local function run(script, flags)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(script)
  f:close()
  local p = assert(io.popen(bin .. " " .. (flags or "") .. " --memtoy " .. path .. " 2>&1"))
  local out = p:read("a")
  local _, _, code = p:close()
  os.remove(path)
  local lines = {}
  for line in out:gmatch("([^\n]*)\n") do
    line = line:gsub("0x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x", "ADDR")   -- 0x%016lx addresses
      :gsub(" +%d+%.%d%d%d", " T")                                     -- %6.3f timings
      :gsub("pid = %d+", "pid = PID"):gsub("pid %d+", "pid PID")
      :gsub("^ +%d+( +%d+ %S+)$", "   PID%1")                          -- children_list
    local head, cells = line:match("^( +%x+: )(.*)$")
    if head then line = head .. cells:gsub("   %d", "   N") end            -- where's nodes
    lines[#lines + 1] = line
  end
  return lines, code, out
end

local function same(script, want, name, flags)
  local got, code, raw = run(script, flags)
  local ok = t.is_deeply(got, want, name)
  if not ok then t.diag(raw) end
  t.is(code, 0, name .. ": exit 0")
  return got
end

same([[
anon foo 4m
show
map foo
map foo
show
touch foo 0 8p write
where foo 0 16p
where foo 3p 6p
]], {
  "",
  "  _____address______ ____length____ ____offset____ prot  share  name",
  "a *** not-mapped *** 0x000000400000 0x000000000000  rw  private foo",
  "memtoy:  segment foo already mapped",
  "",
  "  _____address______ ____length____ ____offset____ prot  share  name",
  "a ADDR 0x000000400000 0x000000000000  rw- private foo",
  "memtoy:  touched 8 pages in T secs",
  "a ADDR 0x000000400000 0x000000000000  rw- private foo",
  "page offset    +00 +01 +02 +03 +04 +05 +06 +07",
  "           0:    N   N   N   N   N   N   N   N",
  "           8:    -   -   -   -   -   -   -   -",
  "a ADDR 0x000000400000 0x000000000000  rw- private foo",
  "page offset    +00 +01 +02 +03 +04 +05 +06 +07",
  "           0:                N   N   N   N   N",
  "           8:    -",
}, "anon, show, map (twice), touch, where: memtoy's rows and page table")

same([[
anon foo 64p
map foo
where foo
]], {
  "a ADDR 0x000000040000 0x000000000000  rw- private foo",
  "page offset    +00 +01 +02 +03 +04 +05 +06 +07",
  "           0:    -   -   -   -   -   -   -   -",
  "           8:    -   -   -   -   -   -   -   -",
  "          10:    -   -   -   -   -   -   -   -",
  "          18:    -   -   -   -   -   -   -   -",
  "          20:    -   -   -   -   -   -   -   -",
  "          28:    -   -   -   -   -   -   -   -",
  "          30:    -   -   -   -   -   -   -   -",
  "          38:    -   -   -   -   -   -   -   -",
}, "where defaults to 64 pages, 8 a line, page numbers in hex")

same([[
anon foo 1m
map foo
lock foo 0 16p
unlock foo
mbind foo 0 8p bind+move 0
mbind foo 8p 8p interleaved *
mbind foo default
]], {
  "memtoy:  mlock of foo [16 pages] took Tsecs.",
  "memtoy:  migration of foo [8 pages] took Tsecs.",
}, "lock and mbind+move print memtoy's timings; a plain mbind prints nothing")

same([[
shmem s1 1m
map s1
slock s1
touch s1
sunlock s1
show s1
unmap s1
show s1
remove s1
show
]], {
  "memtoy:  touched 256 pages in T secs",
  "s ADDR 0x000000100000 0x000000000000  rw- shared  s1",
  "s *** not-mapped *** 0x000000100000 0x000000000000  rw  shared  s1",
}, "shmem, slock, touch, unmap, remove")

local data = os.tmpname()
do
  local f = assert(io.open(data, "w"))
  f:write(string.rep("x", 3 * vmlab.pagesize()))
  f:close()
end
local base = data:match("[^/]+$")
same(string.format([[
file %s
show %s
map %s 1p 1p
show %s
touch %s
]], data, base, base, base, base), {
  -- memtoy shows length 0 until map reads the file's size; vmlab knows it
  string.format("f *** not-mapped *** 0x000000003000 0x000000000000  rw  private %s", data),
  string.format("f ADDR 0x000000001000 0x000000001000  rw- private %s", data),
  "memtoy:  touched 1 pages in T secs",
}, "file defines, map's offset and length override it")
os.remove(data)

same([[
anon a2 1m
map a2 shared
show a2
unmap a2
map a2 private
show a2
]], {
  "a ADDR 0x000000100000 0x000000000000  rw- shared  a2",
  "a ADDR 0x000000100000 0x000000000000  rw- private a2",
}, "map's <seg-share> overrides anon's")

-- Errors, in memtoy's words; batch mode stops with exit status 4.
local function fails(script, msg, name)
  local got, code = run(script)
  t.is(code, 4, name .. ": exit 4")
  t.like(got[#got] or "", msg, name)
end
fails("anon foo 4m\ntouch foo\n", ":2: segment foo not mapped$", "touch of an unmapped segment")
fails("anon foo 4m\nlock foo\n", ":2: segment foo not mapped$", "lock of an unmapped segment")
fails("anon foo 4m\nwhere foo\n", ":2: segment foo not mapped$", "where of an unmapped segment")
fails("anon foo 4m\nmbind foo bind 0\n", ":2: segment foo not mapped$", "mbind of an unmapped segment")
fails("anon foo 4m\nmap foo\nunmap foo\ntouch foo\n", ":4: segment foo not mapped$", "touch after unmap")
fails("anon foo 4m\nmap foo\ntouch foo 8m 4k\n", "offset 8388608 is past end of segment foo", "an offset past the end")
fails("touch nosuch\n", ":1: no such segment:  nosuch$", "an unknown segment")
fails("map\n", "missing <seg%-name>", "a missing argument")
do
  local got = run("touch nosuch\n")
  t.unlike(table.concat(got, "\n"), "%.lua:%d+:", "no stdlib file:line in a message")
end

-- The task's own mappings (memtoy 0.6b): show +, and what works on them.
-- (Under ASan malloc does not use brk: there is no [heap]; stack stands in.)
do
  local got = run("show +\n")
  local text = table.concat(got, "\n") .. "\n"
  local has_heap = text:find(" private heap\n", 1, true) ~= nil
  local heap = has_heap and "heap" or "stack"
  if has_heap then
    t.like(text, "\na ADDR 0x%x+ 0x%x+  rw%- private heap\n", "show + lists [heap] as 'heap'")
  else
    t.pass("no [heap] in this build's maps (ASan): nothing to list")
  end
  t.like(text, "\na ADDR 0x%x+ 0x%x+  rw%- private stack\n", "and [stack] as 'stack'")
  t.like(text, "\nf ADDR 0x%x+ 0x%x+  r%-x private /[^\n]*/vmlab:text\n", "the executable's text, by path")
  t.like(text, "\na ADDR 0x%x+ 0x%x+  rw%- private libc[^\n]*:data\n", "a library's data")
  local code
  got, code = run(string.format("where %s 0 8p\ntouch stack 0 1p\ntouch vmlab:text 0 2p\nmbind %s 0 1p default\n",
    heap, heap))
  text = table.concat(got, "\n")
  t.is(code, 0, "where, read touch and mbind on the task's segments: exit 0")
  t.like(text, "\npage offset    %+00", "where works on " .. heap)
  t.like(text, "memtoy:  touched 1 pages in T secs\nmemtoy:  touched 2 pages in T secs", "read touch works on stack and text")
  got = run("show\n")
  t.is(#got, 0, "plain show leaves the task's segments out")
  fails("touch " .. heap .. " 0 1p write\n", "Can't write to segment: " .. heap, "write touch of the task's " .. heap .. " is refused")
  fails("unmap " .. heap .. "\n", "Can't unmap segment:  " .. heap, "unmap of the task's " .. heap .. " is refused")
  fails("remove vmlab:data\n", "Can't remove segment:  vmlab:data", "remove of the executable's data is refused")
end

-- Children, pause and kick: a child's pause gives the prompt back at once;
-- kick wakes it, and the next command it gets runs after.
same([[
child c
/c anon x 1m
/c map x
/c pause
/
kick c USR1
/c touch x 0 4p
/c pause
kick c
/c show x
/c quit
/
]], {
  "memtoy:  child c - pid PID",
  "  _pid_ errs _name_",
  "   PID    0 c",
  "memtoy(c):  touched 4 pages in T secs",
  "a ADDR 0x000000100000 0x000000000000  rw- private x",
}, "child, /c pause, kick c USR1 (and INT), /c quit")

do
  local got, code = run("numa\npid\n")
  t.is(code, 0, "numa and pid: exit 0")
  t.is(got[1], "  Node  Total Mem[MB]  Free Mem[MB]", "numa's header, as numa_info")
  t.like(got[2] or "", "^  +%d+  +%d+      +%d+$", "a node: '  %3d  %9ld      %8ld'")
  t.is(got[#got], "memtoy:  pid = PID", "pid, as show_pid")
end

-- pause in the session itself: a signal ends it (USR1 used to kill vmlab
-- with status 138, INT to end it with a traceback), the script goes on.
for _, sig in ipairs { "USR1", "INT", "USR2" } do
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("pause\nanon after 4k\nmap after\ntouch after\n")
  f:close()
  -- Send the signal once the wait is armed: SigCgt has USR1 (bit 10) only
  -- while pause waits.
  local cmd = string.format([[
%s --memtoy %s > %s.out 2>&1 & p=$!
for i in $(seq 1 500); do
  m=$(awk '/^SigCgt/ {print $2}' /proc/$p/status 2>/dev/null)
  [ -n "$m" ] && [ $(( 0x$m & 0x200 )) -ne 0 ] && break
  sleep 0.01
done
kill -%s $p; wait $p; echo "rc=$?" >> %s.out]], bin, q(path), path, sig, path)
  os.execute(cmd)
  local o = io.open(path .. ".out"):read("a")
  t.like(o, "touched 1 pages in +[%d.]+ secs\nrc=0\n$", "pause returns on SIG" .. sig .. " and the script goes on")
  t.unlike(o, "traceback", "no traceback")
  os.remove(path)
  os.remove(path .. ".out")
end

t.done_testing()
