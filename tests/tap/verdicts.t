-- vmlab.tap checked through prove's own parser (TAP::Parser) and exit codes.
local t = require "vmlab.tap"
t.requires { program = "perl" }

local vmlab = os.getenv("VMLAB") or "build/vmlab"
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."

-- Parse a case with TAP::Parser; returns a table of its verdicts.
local parser = [==[
use TAP::Parser;
my $p = TAP::Parser->new({ exec => [$ARGV[0], $ARGV[1]], merge => 0 });
my $yaml = 0;
while (my $r = $p->next) { $yaml++ if $r->is_yaml; }
printf "passed=%d failed=%d todo=%d todo_passed=%d skipped=%d planned=%s run=%d exit=%d good_plan=%d skip_all=%s yaml=%d errors=%d bail=%d version=%d\n",
  scalar($p->passed), scalar($p->failed), scalar($p->todo), scalar($p->todo_passed),
  scalar($p->skipped), $p->tests_planned // 'none', $p->tests_run, $p->exit,
  $p->is_good_plan ? 1 : 0, ($p->skip_all ? 'yes' : 'no'), $yaml,
  scalar($p->parse_errors), 0, $p->version;
]==]
local pf = os.tmpname()
do local f = assert(io.open(pf, "w")); f:write(parser); f:close() end

local function verdict(case)
  local cmd = string.format("perl %s %s %s/cases/%s.lua 2>/dev/null", pf, vmlab, dir, case)
  local p = assert(io.popen(cmd))
  local line = p:read("a")
  p:close()
  local v = {}
  for k, val in line:gmatch("([%w_]+)=(%S+)") do v[k] = tonumber(val) or val end
  return v, line
end

local function run(case)
  local p = assert(io.popen(string.format("%s %s/cases/%s.lua 2>&1", vmlab, dir, case)))
  local text = p:read("a")
  local _, _, code = p:close()
  return text, code
end

local v = verdict("pass")
t.is(v.passed, 12, "pass: 12 passed")
t.is(v.failed, 0, "pass: none failed")
t.is(v.exit, 0, "pass: exit 0")
t.is(v.good_plan, 1, "pass: good plan")
t.is(v.errors, 0, "pass: no parse errors")
t.is(v.version, 13, "pass: TAP version 13")

v = verdict("fail")
t.is(v.failed, 3, "fail: three failures")
t.is(v.passed, 1, "fail: one pass")
t.is(v.exit, 3, "fail: exit status is the number failed")
t.is(v.yaml, 3, "fail: each failure has a YAML block the parser accepts")
t.is(v.errors, 0, "fail: no parse errors")
local text = run("fail")
t.like(text, "path: \"%.a%[2%]%.x\"", "is_deeply reports the path to the first difference")
t.like(text, "got: \"3\"", "is_deeply reports what it got there")

v = verdict("skip")
t.is(v.skip_all, "yes", "skip: whole file skipped")
t.is(v.exit, 0, "skip: exit 0")
text = run("skip")
t.like(text, "1%.%.0 # SKIP needs 64 NUMA nodes", "skip: the reason is given")

v = verdict("todo")
t.is(v.todo, 2, "todo: two todo tests")
t.is(v.todo_passed, 1, "todo: one unexpectedly passed")
t.is(v.skipped, 1, "todo: one skipped")
t.is(v.failed, 0, "todo: a failing todo is not a failure")
t.is(v.exit, 0, "todo: exit 0")

text = run("bail")
t.like(text, "Bail out!  the machine is on fire", "bail: Bail out! line")
local _, code = run("bail")
t.is(code, 255, "bail: exit 255")
local p = io.popen(string.format("prove -e %s %s/cases/bail.lua 2>&1", vmlab, dir))
local ptext = p:read("a"); local _, _, pcode = p:close()
t.like(ptext, "Bailout called", "bail: prove stops the run")
t.isnt(pcode, 0, "bail: prove fails")

v = verdict("died")
t.is(v.exit, 255, "died: exit 255 even after the plan was met")
t.is(v.passed, 2, "died: tests before the error still count")
text = run("died")
t.like(text, "died after the plan was met", "died: the error is shown")
t.like(text, "stack traceback", "died: with a traceback")
t.like(text, "exited with 255 just after 2", "died: Test::Builder's note")
p = io.popen(string.format("prove -e %s %s/cases/died.lua 2>&1", vmlab, dir))
ptext = p:read("a"); _, _, pcode = p:close()
t.isnt(pcode, 0, "died: prove reports a failure, not a pass")

v = verdict("badplan")
t.is(v.exit, 255, "bad plan: exit 255")
t.is(v.good_plan, 0, "bad plan: prove sees the wrong plan")

v = verdict("noplan")
t.is(v.exit, 254, "no plan: exit 254 as Test::Builder")

v = verdict("subtests")
t.is(v.passed, 2, "subtests: ok and skipped subtests pass")
t.is(v.failed, 3, "subtests: failing, died and empty subtests fail")
t.is(v.errors, 0, "subtests: nested output does not confuse prove")
text = run("subtests")
t.like(text, "\n        # Subtest: nested\n        1%.%.1\n        ok 1 %- deep\n    ok 2 %- nested", "subtests nest with 4-space indents")
t.like(text, "ok 2 %- inner skip # skip nothing to do", "skipped subtest is a skip")
t.like(text, "not ok 4 %- inner died", "died subtest fails")

os.remove(pf)
t.done_testing()
