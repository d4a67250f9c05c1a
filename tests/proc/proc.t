-- vmlab.proc: children with a command loop, forked functions, signals.
local t = require "vmlab.tap"
local proc = require "vmlab.proc"
local seg = require "vmlab.seg"
local vmlab = require "vmlab"

local shared = seg.anon("shared", "64k", { shared = true })
local private = seg.anon("private", "64k")
shared:fill({ seed = 1 })
private:fill({ seed = 1 })

local a = proc.child("a")
t.type_ok(a, "vmlab.proc.child", "child() gives a handle")
t.cmp_ok(a.pid, ">", 0, "with a pid")
t.isnt(a.pid, vmlab.pid(), "another process")
t.is(a.name, "a", "and its name")
t.like(tostring(a), "^child a %(pid %d+%)$", "__tostring")
t.is(proc.get("a"), a, "get by name")
t.error_like(function() proc.child("a") end, "exists already", "names are unique")
t.error_like(function() proc.child("x/y") end, "no '/'", "a name has no slash")

t.is_deeply({ a:eval("return 1 + 1, 'two', { k = { 1, 2.5 } }, true") }, { 2, "two", { k = { 1, 2.5 } }, true },
  "eval returns the chunk's results")
t.is(a:eval("return require('vmlab').pid()"), a.pid, "the chunk runs in the child")
t.is(a:eval("return require('vmlab.proc').name()"), "a", "the child knows its name")
local r, err = a:eval("error('boom')")
t.is(r, nil, "an error in the child")
t.like(err, "child a:1: boom", "comes back as nil, message")
r, err = a:eval("this is not lua")
t.like(err, "syntax error", "a syntax error too")
t.like(a:eval("return require('vmlab.seg').get('shared')"), "^segment 'shared'", "a segment comes back as its description")

-- Memory: shared mappings are shared, private ones copied on write.
t.ok(a:eval("return require('vmlab.seg').get('shared'):verify({ seed = 1 })"), "the child sees the shared segment")
a:eval("require('vmlab.seg').get('shared'):fill({ seed = 2 }); require('vmlab.seg').get('private'):fill({ seed = 2 })")
t.ok(shared:verify({ seed = 2 }), "what the child writes to a shared segment, the parent reads")
t.ok(private:verify({ seed = 1 }), "a private segment stays the parent's own")

-- Children have children: memtoy's /a/b.
t.cmp_ok(a:eval("return require('vmlab.proc').child('b').pid"), ">", 0, "a child makes a child")
t.is(a:eval("return require('vmlab.proc').get('b'):eval('return require(\"vmlab.proc\").name()')"), "b",
  "and talks to it")
t.is_deeply(a:eval("return require('vmlab.proc').list()"),
  { "b" }, "the child lists its own children")
t.is(#proc.list(), 1, "the parent lists only its own")

-- Signals and exits.
t.ok(a:kick("usr1"), "kick by name")
local how, what = a:wait(5)
t.is(how, "killed", "SIGUSR1 kills by default")
t.is(what, "SIGUSR1", "and wait says so")
r, err = a:eval("return 1")
t.is(r, nil, "eval of a dead child fails")
t.like(err, "child 'a' killed by SIGUSR1", "saying how it ended")
r, err = a:kick("TERM")
t.is(r, nil, "kicking a reaped child fails")
a:close()
t.error_like(function() a:eval("return 1") end, "closed child a", "a closed handle raises")
t.error_like(function() proc.kick(vmlab.pid(), "SIGBOGUS") end, "unknown signal 'SIGBOGUS'", "unknown signal")
t.is(proc.signal("usr2"), 12, "signal names: usr2")
t.is(proc.signal("SIGKILL"), 9, "SIGKILL")
t.is(proc.signal(15), 15, "numbers pass")

local c = proc.child("c")
r, err = c:eval("while true do end", "200ms")
t.is(r, nil, "an eval that does not finish times out")
t.like(err, "timed out", "saying so")
t.is(c:alive(), false, "and the child is ended, not left running")
c:close()

local k = proc.child("k")
t.ok(k:eval("return true"), "another child")
t.ok(k:eval("os.exit(3)") == nil, "a child that exits while evaluating")
t.is_deeply({ k:wait(5) }, { "exited", 3 }, "exited 3")
k:close()

-- proc.fork
local f = proc.fork(function(x) return x * 2 end, 21)
t.is_deeply({ f:wait(5) }, { "exited", 42 }, "fork: the function's integer is the exit status")
f = proc.fork(function() error("in the fork") end)
local how, code, ferr = f:wait(5)
t.is_deeply({ how, code }, { "exited", 1 }, "fork: an error exits 1")
t.like(ferr, "in the fork", "and wait() returns the error (not printed by the child)")
f = proc.fork(function() vmlab.snooze(10) end)
t.ok(f:kick("KILL"), "kick a fork")
t.is_deeply({ f:wait(5) }, { "killed", "SIGKILL" }, "killed")
t.error_like(function() f:eval("return 1") end, "takes no commands", "a fork takes no commands")

-- A handle going out of scope ends its child.
local pid
do
  local s <close> = proc.child("scoped")
  pid = s.pid
end
t.ok(os.execute("! kill -0 " .. pid .. " 2>/dev/null"), "closing a handle ends the child")
t.done_testing()
