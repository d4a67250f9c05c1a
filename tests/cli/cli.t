-- vmlab's command line: every option, and every error gives one clear
-- message and a non-zero exit, never a crash.
local t = require "vmlab.tap"
local vmlab = os.getenv("VMLAB") or "build/vmlab"

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p " .. tmp)

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function write(name, text)
  local path = tmp .. "/" .. name
  local f = assert(io.open(path, "w")); f:write(text); f:close()
  return path
end

-- Run vmlab with args (a shell fragment); returns stdout, stderr, exit code.
local function run(args, stdin)
  local out, err = tmp .. "/out", tmp .. "/err"
  local cmd = string.format("%s %s >%s 2>%s", vmlab, args, out, err)
  if stdin then cmd = string.format("printf %%s %s | %s", q(stdin), cmd) else cmd = cmd .. " </dev/null" end
  local _, _, code = os.execute(cmd)
  local function slurp(p) local f = io.open(p); local s = f:read("a"); f:close(); return s end
  return slurp(out), slurp(err), code
end

-- A script and its arguments, with arg as lua.c sets it.
local script = write("args.lua", [[
print(arg[0], #arg, arg[1], arg[2], arg[-1] ~= nil)
print(...)
]])
local out, err, code = run(q(script) .. " one 'two words'")
t.is(out, script .. "\t2\tone\ttwo words\ttrue\none\ttwo words\n", "script gets arg and ...")
t.is(code, 0, "exit 0")
t.is(err, "", "nothing on stderr")

out, _, code = run("-e 'print(1 + 2)'")
t.is(out, "3\n", "-e runs a statement")
out = run("-e 'x = 4' -e 'print(x * 2)'")
t.is(out, "8\n", "several -e run in order")
out = run("-e'print(\"attached\")'")
t.is(out, "attached\n", "-e with the code attached")
out = run("-l vmlab.pretty -e 'print(type(pretty.format))'")
t.is(out, "function\n", "-l requires a module into a global")

out, _, code = run("-", "print('from stdin', ...)")
t.is(out, "from stdin\n", "- runs stdin")
out = run("", "print('piped')")
t.is(out, "piped\n", "no script and a pipe: stdin runs as a script, no prompt")
out = run(q(script) .. " -e x", nil)
t.like(out, "\t2\t%-e\tx\t", "options after the script go to the script")
out = run("-- " .. q(script) .. " a")
t.like(out, "\t1\ta\t", "-- ends the options")

out, _, code = run("-V")
t.like(out, "^vmlab %d+%.%d+%.%d+ %(Lua 5%.4", "-V prints the version")
t.is(code, 0, "-V exits 0")
for _, o in ipairs { "-h", "-x", "--help" } do
  out, _, code = run(o)
  t.like(out, "^usage: vmlab", o .. " prints the usage")
  t.is(code, 0, o .. " exits 0")
end
out = run("-v -e 'print(require(\"vmlab\").verbose)'")
t.is(out, "true\n", "-v sets vmlab.verbose")

-- Errors: one clear message, non-zero exit.
local function bad(args, pattern, name, stdin, want_code)
  local o, e, c = run(args, stdin)
  t.like(e, pattern, name .. ": message")
  t.is(c, want_code or 1, name .. ": exit " .. (want_code or 1))
  t.unlike(e, "Segmentation|core dumped|Aborted", name .. ": no crash")
  return o, e
end
bad("-Q", "unrecognized option '%-Q'", "unknown option")
bad("--frobnicate", "unrecognized option '%-%-frobnicate'", "unknown long option")
bad("-e", "'%-e' needs an argument", "-e without code")
bad("-l", "'%-l' needs an argument", "-l without a module")
bad("-l no.such.module", "module 'no.such.module' not found", "-l of a missing module")
bad(q(tmp .. "/missing.lua"), "cannot open .*missing%.lua", "missing script")
local syn = write("syntax.lua", "local x = = 1\n")
local _, e = bad(q(syn), "syntax%.lua:1: unexpected symbol near '='", "syntax error")
t.unlike(e, "traceback", "syntax error: no traceback")
local rt = write("runtime.lua", "local function f() error('deep trouble') end\nf()\n")
_, e = bad(q(rt), "runtime%.lua:1: deep trouble", "runtime error")
t.like(e, "stack traceback:.*runtime%.lua:2", "runtime error: with a traceback")
bad("-e 'error({})'", "error object is a table value", "non-string error object")
bad("-e 'local t = setmetatable({}, {__tostring = function() return \"custom\" end}); error(t)'",
  "custom", "error object with __tostring")
bad("-", "stdin:1:", "syntax error on stdin", "this is not lua")
local _, e2, c2 = run("-e 'os.exit(7)'")
t.is(c2, 7, "os.exit code passes through")
t.is(e2, "", "os.exit prints nothing")

-- A script that raises after some TAP tests exits 255 (Test::Builder).
local died = write("died.t", "local t = require 'vmlab.tap'\nt.pass('a')\nerror('late')\n")
local o3, _, c3 = run(q(died))
t.is(c3, 255, "a TAP script that dies exits 255")
t.like(o3, "ok 1 %- a", "its earlier tests were printed")

os.execute("rm -rf " .. tmp)
t.done_testing()
