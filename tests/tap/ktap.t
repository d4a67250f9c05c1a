-- vmlab.tap's KTAP (VMLAB_TAP=ktap or t.options{format="ktap"}) read back
-- by a parser that follows the rules of the kernel's KTAP spec
-- (Documentation/dev-tools/ktap.rst, version 1): every test, nested or
-- not, opens with "KTAP version 1"; the plan, if any, follows it (or the
-- "# Subtest:" line; a test that cannot know its count leaves it out); a subtest is indented two spaces more
-- than its parent, may name itself with "# Subtest:", and is closed by its
-- parent's result line; results are "ok|not ok N [description] [# DIRECTIVE
-- [reason]]", numbered from 1, as many as the plan says; directives are
-- SKIP, TODO, XFAIL, TIMEOUT, ERROR.  Strict: any other line is an error.
local t = require "vmlab.tap"
local vmlab = os.getenv("VMLAB") or "build/vmlab"
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."

local directives = { SKIP = true, TODO = true, XFAIL = true, TIMEOUT = true, ERROR = true }

-- parse(text) -> tree or nil, "line N: why".  A tree: { name, plan,
-- skip_all, results = { {ok, n, desc, directive, reason, sub = tree} } }.
local function parse(text)
  local lines = {}
  for l in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  local pos = 1
  local function at(indent)   -- the line at pos, without indent, if it has exactly that indent
    local l = lines[pos]
    if l == nil then return nil end
    if l:sub(1, #indent) ~= indent or l:sub(#indent + 1, #indent + 1) == " " then return nil end
    return l:sub(#indent + 1)
  end
  local function fail(why) error({ string.format("line %d: %s (%q)", pos, why, lines[pos] or "<end>") }, 0) end
  local function test(indent)
    local node = { results = {} }
    if at(indent) ~= "KTAP version 1" then fail("expected 'KTAP version 1' at indent " .. #indent) end
    pos = pos + 1
    local l = at(indent)
    if l and l:match("^# Subtest: ") then node.name = l:match("^# Subtest: (.*)$"); pos = pos + 1 end
    while true do
      l = at(indent)
      if l == nil then
        if lines[pos] and lines[pos]:sub(1, #indent + 2) == indent .. "  " then
          node.seen = true
          local sub = test(indent .. "  ")
          -- the parent's result line must close it
          local r = at(indent)
          if not r or not r:match("^n?o?t? ?ok ") then fail("a subtest not closed by a result line") end
          node.pending = sub
        else
          break
        end
      elseif l:match("^1%.%.%d+") then
        if node.plan then fail("a second plan") end
        if node.seen then fail("a plan after the first line of the test") end
        local n, rest = l:match("^1%.%.(%d+)(.*)$")
        node.plan = tonumber(n)
        if rest ~= "" then
          local why = rest:match("^ # SKIP ?(.*)$")
          if not why or node.plan ~= 0 then fail("a plan with trailing text") end
          node.skip_all = why
        end
        node.seen = true
        pos = pos + 1
      elseif l:match("^ok ") or l:match("^not ok ") then
        local okw, n, rest = l:match("^(n?o?t? ?ok) (%d+)(.*)$")
        if not n then fail("a result line without a number") end
        local r = { ok = okw == "ok", n = tonumber(n), sub = node.pending }
        node.pending = nil
        local desc, dir_part = rest:match("^ ?([^#]-) ?# (.*)$")
        if not desc then desc = rest:match("^ ?(.*)$") end
        if dir_part then
          local d, reason = dir_part:match("^(%u+) ?(.*)$")
          if not d or not directives[d] then fail("an unknown directive") end
          r.directive, r.reason = d, reason
        end
        r.desc = desc
        if r.n ~= #node.results + 1 then fail("result " .. r.n .. " out of order") end
        if r.sub and r.sub.name and r.sub.name ~= desc then fail("the result names another subtest") end
        node.results[#node.results + 1] = r
        node.seen = true
        pos = pos + 1
      elseif l:match("^#") then
        node.seen = true
        pos = pos + 1      -- a diagnostic line
      else
        fail("not a KTAP line")
      end
    end
    if node.plan and node.plan ~= #node.results then fail(string.format("planned %d, ran %d", node.plan, #node.results)) end
    return node
  end
  local ok, tree = pcall(function()
    local tr = test("")
    if lines[pos] ~= nil then fail("text after the top-level test") end
    return tr
  end)
  if not ok then return nil, type(tree) == "table" and tree[1] or tostring(tree) end
  return tree
end

local function run(case, env)
  local p = assert(io.popen(string.format("%s %s %s/cases/%s.lua 2>&1", env or "VMLAB_TAP=ktap", vmlab, dir, case)))
  local text = p:read("a")
  p:close()
  return text
end
local function parsed(case, env)
  local text = run(case, env)
  local tree, err = parse(text)
  if not tree then t.diag(text) end
  return tree, err, text
end

-- the parser itself: a hand-written KTAP sample from the spec's shape, and
-- broken variants it must refuse
local sample = table.concat({
  "KTAP version 1", "1..2", "  KTAP version 1", "  # Subtest: example", "  1..2",
  "  ok 1 test_1", "  ok 2 test_2 # SKIP no widget", "ok 1 example", "# a diagnostic",
  "not ok 2 other # TIMEOUT", "" }, "\n")
local tree, err = parse(sample)
t.ok(tree, "the parser takes a spec-shaped sample" .. (err and ": " .. err or ""))
t.is(tree and tree.results[1].sub.results[2].directive, "SKIP", "and reads a nested SKIP")
for _, bad in ipairs {
  { sample:gsub("^KTAP version 1", "TAP version 13"), "expected 'KTAP version 1'" },
  { sample:gsub("  ok 2 test_2", "  ok 3 test_2"), "out of order" },
  { sample:gsub("1%.%.2\n  KTAP", "1..3\n  KTAP"), "planned 3, ran 2" },
  { sample:gsub("^KTAP version 1\n1%.%.2\n", "KTAP version 1\n") .. "1..2\n", "a plan after the first line" },
  { sample:gsub("    ", "   "):gsub("  ok 1 test_1", "    ok 1 test_1"), "KTAP" },
  { sample:gsub("# TIMEOUT", "# skip"), "unknown directive" },
  { sample:gsub("ok 1 example", "ok 1 elsewhere"), "names another subtest" },
} do
  local tr, e = parse(bad[1])
  t.ok(not tr and e and e:find(bad[2], 1, true), "the parser refuses: " .. bad[2] .. " (" .. tostring(e) .. ")")
end

-- vmlab's KTAP
local tr, e, text = parsed("pass")
t.ok(tr, "pass: KTAP accepted" .. (e and ": " .. e or ""))
t.like(text, "^KTAP version 1\n", "KTAP version 1 heads the output")

tr, e, text = parsed("subtests")
t.ok(tr, "subtests: KTAP accepted" .. (e and ": " .. e or ""))
if tr then
  local r = tr.results
  t.is(#r, 5, "five subtests at the top")
  t.ok(r[1].ok and r[1].sub and r[1].sub.name == "inner ok", "a passing subtest, named by # Subtest:")
  t.ok(r[1].sub and r[1].sub.results[2].sub and r[1].sub.results[2].sub.results[1].desc == "deep",
    "nested two deep, each level two spaces in")
  t.ok(r[2].ok and r[2].directive == "SKIP" and r[2].reason == "nothing to do" and r[2].sub.skip_all == "nothing to do",
    "a skipped subtest: 1..0 # SKIP inside, ok N name # SKIP reason outside")
  t.ok(not r[3].ok and not r[4].ok and not r[5].ok, "failed, died and empty subtests are not ok")
end
t.like(text, "\n    ok 1 deep\n", "the nested test point is indented by four spaces (two levels)")
t.unlike(text, "%-%-%-", "no YAML blocks in KTAP")
t.like(text, "\n  # +Failed test 'b'", "a failure's details are diagnostic lines in the stream")

tr, e, text = parsed("todo")
t.ok(tr, "todo: KTAP accepted" .. (e and ": " .. e or ""))
if tr then
  t.is(tr.results[1].directive, "TODO", "a TODO directive")
  t.is(tr.results[3].directive, "SKIP", "skip() gives # SKIP")
  t.is(tr.results[3].reason, "no widget", "with its reason")
end
tr, e = parsed("skip")
t.ok(tr and tr.skip_all, "skip_all: 1..0 # SKIP accepted" .. (e and ": " .. e or ""))
tr, e = parsed("fail")
t.ok(tr and tr.results[1].ok and not tr.results[2].ok, "a failing file: accepted, ok then not ok" .. (e and ": " .. e or ""))

-- the default stays TAP 13 (prove), which KTAP's rules refuse
text = run("subtests", "VMLAB_TAP=")
t.like(text, "^TAP version 13\n", "without VMLAB_TAP: TAP version 13")
t.like(text, "\n    # Subtest: inner ok\n", "with four-space TAP 13 subtests")
t.ok(not parse(text), "which is not KTAP")

-- the option, from the script
local script = os.tmpname()
local f = assert(io.open(script, "w"))
f:write([[
local t = require "vmlab.tap"
t.options { format = "ktap" }
t.ok(true, "a # b")
t.error_like(function() t.options { format = "tap13" } end, "before the first line", "no switching midway")
t.error_like(function() t.options { fromat = "ktap" } end, "unknown option 'fromat'", "options are checked")
t.error_like(function() t.options { format = "tap14" } end, "bad format 'tap14'", "formats are checked")
t.done_testing()
]])
f:close()
local p = assert(io.popen("VMLAB_TAP= " .. vmlab .. " " .. script .. " 2>&1"))
text = p:read("a")
p:close()
os.remove(script)
tr, e = parse(text)
t.ok(tr, "t.options{format='ktap'} prints KTAP" .. (e and ": " .. e or ""))
t.ok(tr and #tr.results == 4 and tr.results[2].ok and tr.results[3].ok and tr.results[4].ok,
  "and the option is checked") if not tr then t.diag(text) end
t.like(text, "ok 1 a %%23 b\n", "a '#' in a name cannot start a directive")
t.done_testing()
