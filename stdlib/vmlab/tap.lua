-- vmlab.tap: Test::More's API as module functions, printing TAP version 13
-- that prove reads.  Subtests nest the TAP14 way (4-space indent, a
-- "# Subtest:" line, then the correlated test point); failures carry a
-- YAML block (got, expected, file, line) with every string quoted so that
-- prove's YAMLish reader always accepts it.  The host calls _finish() after
-- the script, which gives Test::Builder's exit status.
--
-- KTAP (the kernel's dialect, Documentation/dev-tools/ktap.rst) instead,
-- when VMLAB_TAP=ktap or t.options{ format = "ktap" } before the first line:
-- "KTAP version 1" heads the file and every subtest, subtests indent by two
-- spaces, a plan is printed only where it can follow the version line (KTAP
-- has no trailing plan: done_testing() leaves it out, as the spec allows),
-- result lines are "ok N name [# SKIP|TODO reason]", and a failure's
-- details are "# " diagnostic lines on stdout (KTAP has no YAML, and the
-- kernel's runners read one stream), so kselftest's runner and KernelCI's
-- parsers take vmlab suites as they are.  prove keeps getting TAP 13.

local M = {}

local out = io.stdout
-- Line buffering: a forked child must not inherit (and repeat) TAP lines.
out:setvbuf("line")

local header_done = false
local formats = { tap13 = true, ktap = true }
local format = os.getenv("VMLAB_TAP")
if not formats[format] then format = "tap13" end
local ktap = format == "ktap"
local step = ktap and "  " or "    "

-- One state per (sub)test level.
local function new_state(indent, name)
  return {
    indent = indent, name = name, count = 0, failed = 0, planned = nil,
    done = false, todo = nil, skipped_all = nil,
  }
end

local top = new_state("", nil)
local cur = top

local function emit_header()
  out:write(ktap and "KTAP version 1\n" or "TAP version 13\n")
  header_done = true
end

local function emit(line)
  if not header_done then emit_header() end
  out:write(cur.indent, line, "\n")
  out:flush()
end

local function to_diag_lines(msg)
  local lines = {}
  for l in (tostring(msg) .. "\n"):gmatch("(.-)\n") do
    lines[#lines + 1] = "# " .. l
  end
  return lines
end

-- diag: stderr (or stdout inside a todo block, as Test::Builder does);
-- KTAP: stdout, where the kernel's runners read diagnostics.
function M.diag(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
  local lines = to_diag_lines(table.concat(parts, " "))
  if cur.todo or ktap then
    for _, l in ipairs(lines) do emit(l) end
  else
    out:flush()
    for _, l in ipairs(lines) do io.stderr:write(cur.indent, l, "\n") end
    io.stderr:flush()
  end
end

function M.note(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
  for _, l in ipairs(to_diag_lines(table.concat(parts, " "))) do emit(l) end
end

-- Test names: '#' and '\' are escaped as Test::More does; a newline would
-- end the test line, so it becomes a space.  KTAP has no escapes (a '#'
-- starts the directive), so there '#' becomes "%23".
local function escape_name(name)
  if ktap then return (tostring(name):gsub("#", "%%23"):gsub("[\r\n]", " ")) end
  return (tostring(name):gsub("\\", "\\\\"):gsub("#", "\\#"):gsub("[\r\n]", " "))
end

-- A result line: "ok 3 - name # TODO why" (TAP 13), "ok 3 name # TODO why" (KTAP).
local function result_line(ok, n, name, directive, why)
  local line = (ok and "ok " or "not ok ") .. n
  if name ~= nil and name ~= "" then line = line .. (ktap and " " or " - ") .. escape_name(name) end
  if directive then
    if ktap or directive == "TODO" then directive = directive:upper() else directive = directive:lower() end
    line = line .. " # " .. directive .. (why and why ~= "" and " " .. escape_name(why) or "")
  end
  return line
end

-- options{ format = "ktap" | "tap13" }: before the first line is printed.
function M.options(opts)
  require("vmlab").checkopts(opts, "tap.options", { "format" })
  if opts.format ~= nil then
    if not formats[opts.format] then
      error("tap.options: bad format '" .. tostring(opts.format) .. "' (ktap or tap13)", 2)
    end
    if header_done and opts.format ~= format then
      error("tap.options: the format is set before the first line is printed", 2)
    end
    format, ktap = opts.format, opts.format == "ktap"
    step = ktap and "  " or "    "
  end
  return { format = format }
end

-- A YAML double-quoted scalar; '"', '\' and control bytes as \xNN so the
-- reader's unescaping cannot be confused.
local function yq(s)
  s = tostring(s)
  return '"' .. s:gsub('[%c"\\\127]', function(c)
    return string.format("\\x%02x", c:byte())
  end) .. '"'
end

-- A readable rendering of a value for diagnostics.
local function repr(v)
  local ty = type(v)
  if ty == "string" then
    return string.format("%q", v):gsub("\\\n", "\\n")
  elseif ty == "number" then
    return math.type(v) == "integer" and tostring(v) or string.format("%.17g", v)
  elseif ty == "nil" or ty == "boolean" then
    return tostring(v)
  end
  local ok, s = pcall(tostring, v)
  return ok and s or ty
end

-- The caller's position: the first frame outside this file.
local function caller_pos()
  local here = debug.getinfo(1, "S").source
  for level = 2, 50 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source ~= here and info.what ~= "C" then
      return info.short_src, info.currentline
    end
  end
  return "?", 0
end

-- Record one test point.  `extra` is an ordered list of {key, value} for
-- the YAML block and the diagnostics of a failure.
local function result(ok, name, extra)
  ok = not not ok
  cur.count = cur.count + 1
  emit(result_line(ok, cur.count, name, cur.todo and "TODO", cur.todo))
  if not ok then
    if not cur.todo then cur.failed = cur.failed + 1 end
    local file, lineno = caller_pos()
    local y = { "  ---" }
    local d = {}
    if name ~= nil and name ~= "" then
      d[#d + 1] = string.format("  Failed %stest '%s'", cur.todo and "(TODO) " or "", tostring(name))
    else
      d[#d + 1] = string.format("  Failed %stest", cur.todo and "(TODO) " or "")
    end
    d[#d + 1] = string.format("  at %s line %d.", file, lineno)
    for _, kv in ipairs(extra or {}) do
      y[#y + 1] = "  " .. kv[1] .. ": " .. yq(kv[2])
      d[#d + 1] = string.format("%14s: %s", kv[1], tostring(kv[2]))
    end
    y[#y + 1] = "  file: " .. yq(file)
    y[#y + 1] = "  line: " .. tostring(lineno)
    y[#y + 1] = "  ..."
    if not ktap then for _, l in ipairs(y) do emit(l) end end
    M.diag(table.concat(d, "\n"))
  end
  return ok
end

function M.ok(cond, name) return result(cond, name) end
function M.nok(cond, name) return result(not cond, name, { { "got", repr(cond) }, { "expected", "false or nil" } }) end
function M.pass(name) return result(true, name) end
function M.fail(name, why)
  return result(false, name, why and { { "message", why } } or nil)
end

function M.is(got, expected, name)
  return result(got == expected, name, { { "got", repr(got) }, { "expected", repr(expected) } })
end

function M.isnt(got, expected, name)
  return result(got ~= expected, name, { { "got", repr(got) }, { "expected", "anything else" } })
end

function M.like(got, pattern, name)
  local ok = type(got) == "string" and got:find(pattern) ~= nil
  return result(ok, name, { { "got", repr(got) }, { "expected", "matching " .. pattern } })
end

function M.unlike(got, pattern, name)
  local ok = type(got) == "string" and got:find(pattern) == nil
  return result(ok, name, { { "got", repr(got) }, { "expected", "not matching " .. pattern } })
end

local cmp_ops = {
  ["=="] = function(a, b) return a == b end,
  ["~="] = function(a, b) return a ~= b end,
  ["!="] = function(a, b) return a ~= b end,
  ["<"] = function(a, b) return a < b end,
  ["<="] = function(a, b) return a <= b end,
  [">"] = function(a, b) return a > b end,
  [">="] = function(a, b) return a >= b end,
}

function M.cmp_ok(a, op, b, name)
  local f = cmp_ops[op]
  if not f then error("cmp_ok: unknown operator '" .. tostring(op) .. "'", 2) end
  local okc, r = pcall(f, a, b)
  if not okc then
    return result(false, name, { { "message", "cannot compare: " .. tostring(r) } })
  end
  return result(r, name, { { "got", repr(a) }, { "expected", op .. " " .. repr(b) } })
end

-- Deep comparison; returns nil when equal, else path, got, expected.
local function path_key(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return "." .. k end
  return "[" .. repr(k) .. "]"
end

local function deep_diff(a, b, path, seen)
  if a == b then return nil end
  if type(a) ~= "table" or type(b) ~= "table" then
    return path, a, b
  end
  seen[a] = seen[a] or {}
  if seen[a][b] then return nil end
  seen[a][b] = true
  local keys, order = {}, {}
  for k in pairs(a) do if not keys[k] then keys[k] = true; order[#order + 1] = k end end
  for k in pairs(b) do if not keys[k] then keys[k] = true; order[#order + 1] = k end end
  table.sort(order, function(x, y)
    local tx, ty = type(x), type(y)
    if tx ~= ty then return tx < ty end
    if tx == "number" or tx == "string" then return x < y end
    return tostring(x) < tostring(y)
  end)
  for _, k in ipairs(order) do
    local va, vb = a[k], b[k]
    if va == nil and vb ~= nil then return path .. path_key(k), "Does not exist", vb end
    if vb == nil and va ~= nil then return path .. path_key(k), va, "Does not exist" end
    local p, x, y = deep_diff(va, vb, path .. path_key(k), seen)
    if p then return p, x, y end
  end
  return nil
end

function M.is_deeply(got, expected, name)
  local path, x, y = deep_diff(got, expected, "", {})
  if not path then return result(true, name) end
  local function r(v) return v == "Does not exist" and v or repr(v) end
  return result(false, name, {
    { "path", path == "" and "(top)" or path },
    { "got", r(x) }, { "expected", r(y) },
  })
end

local function type_name(v)
  local mt = debug.getmetatable(v)
  if type(v) == "userdata" and mt and type(mt.__name) == "string" then return mt.__name end
  if type(v) == "number" then return math.type(v) end
  return type(v)
end

function M.type_ok(v, expected, name)
  local got = type_name(v)
  local ok = got == expected or type(v) == expected
  if expected == "callable" then
    local mt = debug.getmetatable(v)
    ok = type(v) == "function" or (mt ~= nil and mt.__call ~= nil)
  end
  return result(ok, name, { { "got", got }, { "expected", expected } })
end

function M.error_like(fn, pattern, name)
  local ok, err = pcall(fn)
  if ok then
    return result(false, name, { { "got", "no error" }, { "expected", "an error matching " .. pattern } })
  end
  local msg = tostring(err)
  return result(msg:find(pattern) ~= nil, name, { { "got", msg }, { "expected", "an error matching " .. pattern } })
end

function M.lives_ok(fn, name)
  local ok, err = pcall(fn)
  return result(ok, name, { { "got", "error: " .. tostring(err) }, { "expected", "no error" } })
end

function M.dies_ok(fn, name)
  local ok = pcall(fn)
  return result(not ok, name, { { "got", "no error" }, { "expected", "an error" } })
end

function M.skip(why, count)
  count = count or 1
  for _ = 1, count do
    cur.count = cur.count + 1
    emit(result_line(true, cur.count, nil, "SKIP", why or ""))
  end
end

-- todo(reason, fn): the tests fn runs are expected to fail.
function M.todo(reason, fn)
  local saved = cur.todo
  cur.todo = reason or "todo"
  local ok, err = pcall(fn)
  cur.todo = saved
  if not ok then error(err, 0) end
end

function M.plan(n)
  if type(n) == "table" and n.skip_all then return M.skip_all(n.skip_all) end
  if math.type(n) ~= "integer" or n < 0 then
    error("plan: a number of tests >= 0 expected, got " .. repr(n), 2)
  end
  if cur.planned then error("plan: the plan was already declared", 2) end
  cur.planned = n
  emit("1.." .. n)
end

function M.done_testing(n)
  if cur.done then return end
  if n ~= nil and cur.planned == nil then
    cur.planned = n
    if not ktap then emit("1.." .. n) end
  elseif cur.planned == nil then
    cur.planned = cur.count
    -- KTAP's plan follows the version line or is left out: no trailing plan
    if not ktap then emit("1.." .. cur.count) end
  elseif n ~= nil and n ~= cur.planned then
    result(false, "planned to run " .. cur.planned .. " but done_testing() expects " .. n)
  end
  cur.done = true
  return cur.failed == 0
end

-- A raised value that ends a subtest (or the file) as skipped.
local SkipAll = {}

function M.skip_all(why)
  if cur.count > 0 then error("skip_all: tests were already run", 2) end
  emit("1..0 # SKIP " .. escape_name(why or ""))
  cur.skipped_all = why or ""
  if cur == top then
    io.stdout:flush()
    os.exit(0, true)
  end
  error(SkipAll, 0)
end

function M.BAIL_OUT(why)
  local saved = cur
  cur = top
  emit("Bail out!  " .. tostring(why or ""))
  cur = saved
  io.stdout:flush()
  os.exit(255, true)
end

function M.subtest(name, fn, ...)
  local parent = cur
  local child = new_state(parent.indent .. step, name)
  child.todo = nil
  cur = child
  if ktap then emit("KTAP version 1") end
  emit("# Subtest: " .. escape_name(name))
  local ok, err = xpcall(fn, debug.traceback, ...)
  local extra
  if not ok and err ~= SkipAll and not (type(err) == "string" and err:find("SkipAll", 1, true)) then
    M.diag("subtest died: " .. tostring(err))
    extra = { { "message", "subtest '" .. tostring(name) .. "' died: " .. tostring(err):match("[^\n]*") } }
  end
  local died = extra ~= nil
  if child.skipped_all == nil and not child.done and not died then
    if child.planned == nil then
      if child.count == 0 then
        extra = { { "message", "no tests run for subtest '" .. tostring(name) .. "'" } }
      else
        child.planned = child.count
        if not ktap then emit("1.." .. child.count) end
      end
    end
  end
  if child.skipped_all == nil and child.planned and child.planned ~= child.count and not died then
    extra = { { "message", string.format("planned %d tests but ran %d", child.planned, child.count) } }
  end
  cur = parent
  if child.skipped_all then
    parent.count = parent.count + 1
    emit(result_line(true, parent.count, name, "SKIP", child.skipped_all))
    return true
  end
  return result(not extra and child.failed == 0, name, extra)
end

-- What the machine has, for requires() and for tests that skip in part.
local function read_file(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function nr_nodes()
  local s = read_file("/sys/devices/system/node/online")
  if not s then return 1 end
  local n = 0
  for part in s:gmatch("[^,%s]+") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    if a then n = n + tonumber(b) - tonumber(a) + 1 else n = n + 1 end
  end
  return n
end

local function free_hugepages()
  local s = read_file("/proc/meminfo") or ""
  return tonumber(s:match("HugePages_Free:%s*(%d+)")) or 0
end

local function version_ge(have, want)
  local h, w = {}, {}
  for n in tostring(have):gmatch("%d+") do h[#h + 1] = tonumber(n) end
  for n in tostring(want):gmatch("%d+") do w[#w + 1] = tonumber(n) end
  for i = 1, math.max(#h, #w) do
    local a, b = h[i] or 0, w[i] or 0
    if a ~= b then return a > b end
  end
  return true
end

local function have_program(name)
  for dir in (os.getenv("PATH") or "/usr/bin:/bin"):gmatch("[^:]+") do
    local f = io.open(dir .. "/" .. name, "r")
    if f then f:close(); return true end
  end
  return false
end

local function euid()
  local s = read_file("/proc/self/status") or ""
  return tonumber(s:match("Uid:%s*%d+%s+(%d+)"))
end

-- check{...} -> true, or false and the reason; requires{...} skips the
-- whole file (or subtest) with that reason.
function M.check(req)
  require("vmlab").checkopts(req, "tap.check", { "root", "nodes", "hugepages", "kernel", "damon", "thp", "file",
    "program" })
  if req.root and euid() ~= 0 then return false, "needs root" end
  if req.nodes and nr_nodes() < req.nodes then
    return false, string.format("needs %d NUMA nodes, the machine has %d", req.nodes, nr_nodes())
  end
  if req.hugepages and free_hugepages() < req.hugepages then
    return false, string.format("needs %d free hugepages, the machine has %d (vm.nr_hugepages)",
      req.hugepages, free_hugepages())
  end
  if req.kernel then
    local rel = (read_file("/proc/sys/kernel/osrelease") or "0"):gsub("%s+$", "")
    if not version_ge(rel, req.kernel) then
      return false, "needs kernel " .. req.kernel .. ", running " .. rel
    end
  end
  if req.damon then
    local f = io.open("/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds", "r")
    if not f then return false, "needs the kernel's DAMON sysfs interface (CONFIG_DAMON_SYSFS)" end
    f:close()
  end
  if req.thp then
    local s = read_file("/sys/kernel/mm/transparent_hugepage/enabled") or ""
    if s == "" or s:find("%[never%]") then return false, "needs transparent hugepages enabled" end
  end
  local files = type(req.file) == "table" and req.file or { req.file }
  for _, p in ipairs(files) do
    local f = io.open(p, "r")
    if not f then return false, "needs the file " .. p end
    f:close()
  end
  local progs = type(req.program) == "table" and req.program or { req.program }
  for _, p in ipairs(progs) do
    if not have_program(p) then return false, "needs the program " .. p end
  end
  return true
end

function M.requires(req)
  local ok, why = M.check(req)
  if not ok then M.skip_all(why) end
  return true
end

M.nr_nodes = nr_nodes
M.free_hugepages = free_hugepages

-- Called by the host after the script (errmsg set if it died); returns the
-- exit status Test::Builder would give.
function M._finish(errmsg)
  cur = top
  local function say(msg) M.diag(msg) end
  if errmsg then
    say(string.format("Looks like your test exited with 255 just after %d.", top.count))
    return 255
  end
  if top.skipped_all then return 0 end
  if top.count == 0 and top.planned == nil then
    say("No tests run!")
    return 255
  end
  if top.planned == nil then
    say("Tests were run but no plan was declared and done_testing() was not seen.")
    return 254
  end
  if top.planned ~= top.count then
    say(string.format("Looks like you planned %d test%s but ran %d.",
      top.planned, top.planned == 1 and "" or "s", top.count))
    return 255
  end
  if top.failed > 0 then
    say(string.format("Looks like you failed %d test%s of %d.",
      top.failed, top.failed == 1 and "" or "s", top.count))
    return math.min(top.failed, 254)
  end
  return 0
end

return M
