-- The REPL's traps, through a real pseudo-terminal (pty-drive.pl): Lua
-- names that are also memtoy commands, quit/exit, help, Tab on a segment,
-- and memtoy's own prompt (Ctrl-C, pause, history, completion, children).
local t = require "vmlab.tap"
local pty = dofile(arg[0]:match("^(.*/)") .. "ptylib.lua")
local session, check, state = pty.session, pty.check, pty.state

-- ---- the Lua REPL -------------------------------------------------------------

check("a defined Lua name is Lua: pi = 3.14, then pi prints 3.14 (not the pid)", {
  "expect:> ", "send:pi = 3.14\\n", "expect:> ", "send:pi\\n", "expect:\\n3.14\\n> ", "eof" })

local out = check("numa shows the module, not memtoy's numa table", {
  "expect:> ", "send:numa\\n", "expect:parse_nodes = function", "expect:> ", "eof" })
t.unlike(out, "Total Mem", "memtoy's numa did not run")

out = check("a prefix is not a command: tou is Lua (nil), not touch", {
  "expect:> ", "send:tou\\n", "expect:\\nnil\\n> ", "eof" })
t.unlike(out, "touch", "touch did not run")

check("memtoy commands still run when the line is not Lua", {
  "expect:> ", "send:anon mt 64k\\n", "expect:> ", "send:map mt\\n", "expect:> ",
  "send:touch mt 0 2p write\\n", "expect:memtoy:  touched 2 pages in +[\\d.]+ secs\\n> ",
  "send:show mt\\n", "expect:a 0x[0-9a-f]+ 0x000000010000 0x000000000000  rw- private mt\\n> ",
  "send:touch nosuch\\n", "expect:memtoy: no such segment:  nosuch\\n> ", "eof" })

check("quit leaves the REPL", { "expect:> ", "send:quit\\n" })
check("exit leaves the REPL", { "expect:> ", "send:exit\\n" })
check("a defined quit is Lua", {
  "expect:> ", "send:quit = 7\\n", "expect:> ", "send:quit\\n", "expect:\\n7\\n> ", "eof" })

check("help covers the Lua API: help, help(seg), help \"seg.anon\", help(s), help touch", {
  "expect:> ", "send:help\\n", "expect:vmlab's modules", "expect:seg +segments", "expect:> ",
  "send:help(seg)\\n", "expect:seg\\.anon\\(name, size", "expect:seg\\.maps\\(\\)", "expect:> ",
  "send:help \"seg.anon\"\\n", "expect:map=false defines it unmapped\\n> ",
  "send:s = seg.anon('h1', '64k')\\n", "expect:> ",
  "send:help(s)\\n", "expect:s:touch\\(\\[op\\]", "expect:s:where", "expect:> ",
  "send:help(s.touch)\\n", "expect:read, write or rmw each page\\n> ",
  "send:help touch\\n", "expect:touch <seg-name>", "expect:> ",
  "send:help 'nothing.here'\\n", "expect:no help for 'nothing.here'", "expect:> ", "eof" })

check("Tab completes a segment's methods (s:tou<Tab>)", {
  "expect:> ", "send:s = seg.anon('tab', '64k')\\n", "expect:> ",
  "send:s:tou\\t", "expect:s:touch\\(", "send:'write')\\n", "expect:\\n16\\t", "expect:> ",
  "send:s:un\\t\\t", "expect:unlock\\(.*unmap\\(", "intr", "expect:> ", "eof" })

check("vmlab.pause() returns on kill -USR1 with the signal's name", {
  "expect:> ", "send:vmlab.pause()\\n", "kill:USR1", "expect:\"SIGUSR1\"\\n> ",
  "send:'alive'\\n", "expect:\"alive\"", "eof" })

-- ---- memtoy's prompt (vmlab --memtoy on a terminal) -------------------------------

-- Big segments touched by reading (the zero page: no memory used), but an
-- mmap larger than RAM + swap fails under the default overcommit rule.
local mem_gib = 4
do
  local f = io.open("/proc/meminfo")
  local kb = f and tonumber(f:read("a"):match("MemTotal:%s*(%d+)")) or 0
  if f then f:close() end
  mem_gib = math.max(2, math.min(16, kb // (1024 * 1024) // 2))
end
local big = mem_gib .. "g"

check("memtoy: Ctrl-C interrupts a long touch and returns to the prompt", {
  "expect:memtoy> ", "send:anon big " .. big .. "\\n", "expect:memtoy> ", "send:map big\\n", "expect:memtoy> ",
  "send:touch big\\n", "sleep:0.6", "intr", "expect:interrupted", "expect:memtoy> ",
  "send:snooze 30\\n", "sleep:0.3", "intr", "expect:interrupted", "expect:memtoy> ",
  "send:pid\\n", "expect:memtoy:  pid = \\d+\\n", "send:quit\\n" }, { "--memtoy" })

-- touching several GiB takes a while under ASan on a loaded machine
pty.timeout = 120
out = check("memtoy: a touch over 1 GiB on a terminal shows progress on stderr", {
  "expect:memtoy> ", "send:anon big " .. big .. "\\n", "expect:memtoy> ", "send:map big\\n", "expect:memtoy> ",
  "send:touch big\\n", "expect:touch big: [\\d.]+ [GM]iB of " .. mem_gib .. " GiB \\(\\d+%\\), [\\d.]+ [GM]iB/s, [\\d.]+ s left",
  "expect:memtoy:  touched " .. (mem_gib << 30) // require("vmlab").pagesize() .. " pages", "expect:memtoy> ", "eof" }, { "--memtoy" })
pty.timeout = nil

check("memtoy: pause waits, kill -USR1 brings the prompt back", {
  "expect:memtoy> ", "send:pause\\n", "kill:USR1", "expect:memtoy> ",
  "send:pause\\n", "kill:USR2", "expect:memtoy> ",
  "send:pause\\n", "sleep:0.5", "intr", "expect:memtoy> ",
  "send:pid\\n", "expect:pid = ", "send:exit\\n" }, { "--memtoy" })

check("memtoy: /c pause gives the prompt back at once; kick c USR1 resumes the child", {
  "expect:memtoy> ", "send:child c\\n", "expect:child c - pid \\d+", "expect:memtoy> ",
  "send:/c pause\\n", "expect:memtoy> ", "send:kick c USR1\\n", "expect:memtoy> ",
  "send:/c pid\\n", "expect:memtoy\\(c\\):  pid = \\d+", "expect:memtoy> ", "eof" }, { "--memtoy" })

out = check("memtoy: errors name no stdlib file:line", {
  "expect:memtoy> ", "send:touch nosuch\\n", "expect:memtoy: no such segment:  nosuch",
  "send:anon z 4k\\n", "send:lock z\\n", "expect:memtoy: segment z not mapped", "expect:memtoy> ",
  "send:frob\\n", "expect:unknown command 'frob'", "expect:memtoy> ", "eof" }, { "--memtoy" })
t.unlike(out, "%.lua:%d+:", "no file:line in the session")

check("memtoy: Tab completes commands and segment names", {
  "expect:memtoy> ", "send:anon segabc 4k\\n", "expect:memtoy> ",
  "send:tou\\t", "expect:touch ", "intr", "expect:memtoy> ",
  "send:map sega\\t\\n", "expect:memtoy> ",
  "send:show segabc\\n", "expect:a 0x[0-9a-f]+ 0x000000001000", "expect:memtoy> ", "eof" }, { "--memtoy" })

check("memtoy: history, first session", {
  "expect:memtoy> ", "send:anon hist_seg 4k\\n", "expect:memtoy> ", "eof" }, { "--memtoy" })
check("memtoy: history across sessions (Up recalls it)", {
  "expect:memtoy> ", "send:\\x1b[A\\n", "expect:anon hist_seg 4k", "expect:memtoy> ",
  "send:show hist_seg\\n", "expect:not-mapped", "eof" }, { "--memtoy" })

os.execute("rm -rf " .. state)
t.done_testing()
