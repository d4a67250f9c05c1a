-- The REPL driven through a real pseudo-terminal (tests/repl/pty-drive.pl).
local t = require "vmlab.tap"
local pty = dofile(arg[0]:match("^(.*/)") .. "ptylib.lua")
local session, check, state = pty.session, pty.check, pty.state

check("expressions, =expr and statements print their values", {
  "expect:> ", "send:1 + 1\\n", "expect:\\n2\\n> ",
  "send:=math.max(3, 9)\\n", "expect:\\n9\\n> ",
  "send:x = 5\\n", "send:x * 2\\n", "expect:\\n10\\n> ",
  "send:'a', nil, 3\\n", "expect:\"a\"\\tnil\\t3\\n> ", "eof" })

check("tables are pretty-printed, nested and sorted; cycles are marked", {
  "expect:> ", "send:{ b = { 2, 3 }, a = 1 }\\n", "expect:\\{ a = 1, b = \\{ 2, 3 \\} \\}",
  "send:c = {}; c.self = c\\n", "send:c\\n", "expect:self = <cycle",
  "send:io.stdout\\n", "expect:file \\(0x", "eof" })

check("multi-line statements get a continuation prompt", {
  "expect:> ", "send:for i = 1, 3 do\\n", "expect:>> ", "send:print(i * 10)\\n",
  "expect:>> ", "send:end\\n", "expect:10\\n20\\n30\\n> ", "eof" })

check("syntax and runtime errors are reported and the prompt goes on", {
  "expect:> ", "send:1 +* 2\\n", "expect:unexpected symbol", "expect:> ",
  "send:error('boom')\\n", "expect:boom", "expect:stack traceback", "expect:> ",
  "send:2 + 2\\n", "expect:\\n4\\n", "eof" })

check("tab completes globals, fields and methods", {
  "expect:> ", "send:vmlab.si\\t", "expect:vmlab\\.size\\(", "send:'4k')\\n", "expect:\\n4096\\n> ",
  "send:io.stdout:setv\\t", "expect:setvbuf\\(", "send:'line')\\n", "expect:> ",
  "send:pai\\t", "expect:pairs\\(", "send:{})\\n", "expect:> ",
  "send:io.stdout:se\\t\\t", "expect:seek\\(.*setvbuf\\(", "intr", "expect:> ", "eof" })

check("every vmlab module is a global", {
  "expect:> ", "send:type(vmlab), type(tap), type(pretty)\\n",
  "expect:\"table\"\\t\"table\"\\t\"table\"", "eof" })

check("Ctrl-C at the prompt clears the line and the unfinished statement", {
  "expect:> ", "send:abc def", "expect:abc def", "intr", "expect:> ",
  "send:for i = 1, 3 do\\n", "expect:>> ", "intr", "expect:> ",
  "send:7 * 6\\n", "expect:\\n42\\n> ", "eof" })

check("Ctrl-C interrupts a running Lua loop and a C wait", {
  "expect:> ", "send:while true do end\\n", "sleep:0.5", "intr", "expect:interrupted!", "expect:> ",
  "send:vmlab.snooze(30)\\n", "sleep:0.5", "intr", "expect:interrupted!", "expect:> ",
  "send:'alive'\\n", "expect:\\n\"alive\"\\n> ", "eof" })

check("history: first session", {
  "expect:> ", "send:hist_marker = 12345\\n", "expect:> ", "eof" })
local f = io.open(state .. "/vmlab/history")
local h = f and f:read("a") or ""
if f then f:close() end
t.like(h, "hist_marker = 12345", "history is saved under XDG_STATE_HOME")
check("history: a second session recalls it with Up", {
  "expect:> ", "send:\\x1b[A\\n", "expect:hist_marker = 12345", "expect:> ",
  "send:hist_marker\\n", "expect:\\n12345\\n", "eof" })

check("-i runs the script, then the prompt", {
  "expect:> ", "send:from_e\\n", "expect:\\n99\\n> ", "eof" }, { "-e", "from_e = 99", "-i" })

os.execute("rm -rf " .. state)
t.done_testing()
