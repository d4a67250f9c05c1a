-- vmlab.progress and the progress lines of long work when stderr is not a
-- terminal: nothing at all reaches it (TAP and logs stay clean), even with
-- VMLAB_PROGRESS=1 (every threshold off).  tests/repl/progress.t shows
-- the lines on a terminal.
local t = require "vmlab.tap"
local progress = require "vmlab.progress"

local vmlab = os.getenv("VMLAB") or "build/vmlab"
local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p " .. tmp)
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Run vmlab with stderr to a pipe (2>&1 through popen) or a file; return
-- status, stdout(+stderr) text.
local function run(args, stdin_script, stderr_to)
  local path = tmp .. "/s.lua"
  if stdin_script then
    local f = assert(io.open(path, "w"))
    f:write(stdin_script)
    f:close()
    args = q(path) .. " " .. (args or "")
  end
  local redirect = stderr_to and ("2>" .. q(stderr_to)) or "2>&1"
  local p = assert(io.popen("VMLAB_PROGRESS=1 " .. q(vmlab) .. " " .. args .. " " .. redirect))
  local out = p:read("a")
  return p:close(), out
end

local function slurp(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- ---- the Lua API ---------------------------------------------------------------

t.error_like(function() progress.start("x", 10, { unti = "count" }) end,
  "progress.start: unknown option 'unti' %(did you mean 'unit'%?%)", "a misspelled option is named")
t.error_like(function() progress.start("x", 10, { unit = "pages" }) end,
  "unit is 'bytes', 'count' or 'seconds', not 'pages'", "an unknown unit is named")
t.error_like(function() progress.start("x", -1) end, "out of range", "a negative total raises")
t.error_like(function() progress.start(nil, 1) end, "bad argument #1", "what is a string")
t.error_like(function() progress.start("x", "1q", { unit = "bytes" }) end, "bad argument #2", "a bad size raises")
local p = progress.start("copy", "1m", { unit = "bytes", min = "4k" })
t.error_like(function() p:update(-1) end, "bad argument #1", "a negative amount raises")
t.error_like(function() p:update(0 / 0) end, "NaN", "NaN raises")
t.lives_ok(function() p:update(2 << 20) end, "past the total is clamped, not an error")
t.like(tostring(p), "^progress %(copy: ", "tostring names the work")
p:done()
t.lives_ok(function() p:done(); p:close() end, "done and close are idempotent")
t.is(tostring(p), "progress (done)", "tostring of a finished one")
t.error_like(function() p:update(1) end, "finished progress", "update after done raises")
do
  local s <close> = progress.start("wait", "2s", { unit = "seconds" })
  s:update(0.5)
  t.like(tostring(s), "wait: 0%.5 s of 2%.0 s %(25%%%)", "seconds keep their fractions")
end

-- ---- nothing on stderr when it is a pipe or a file ------------------------------------

local script = [[
local damon = require "vmlab.damon"
local vmlab = require "vmlab"
local progress = require "vmlab.progress"
local base, size = 0x100000000, 64 << 20
local m = damon.monitor { backend = "replay", targets = { { start = base, ["end"] = base + size } },
  oracle = function(a) return a < base + size // 10 end }
m:step(3000)
for s in m:snapshots { count = 5 } do end
vmlab.snooze(1.05)
local p <close> = progress.start("lua loop", 10)
print("active " .. tostring(p:active()))
for i = 1, 10 do p:update(i) end
print("done")
]]
local err = tmp .. "/err"
local ok, out = run(nil, script, err)
t.ok(ok, "a monitor run, snapshots{count}, a long snooze and a Lua loop ran")
t.is(out, "active false\ndone\n", "stdout holds only the script's output")
t.is(slurp(err), "", "stderr (a file) is empty")
ok, out = run(nil, script)
t.is(out, "active false\ndone\n", "stderr on a pipe: nothing added to the output")

-- a record of 300 snapshots: each report phase would draw a line
local rec = tmp .. "/rec.data"
dofile(arg[0]:match("^(.*/)") .. "../report/synthrec.lua")(rec, 300, 10)
for _, kind in ipairs { "heatmap --stdout_colorset none", "wss", "record_info", "access --raw_form" } do
  ok, out = run("report " .. kind .. " -i " .. q(rec), nil, err)
  t.ok(ok and #out > 0, "vmlab report " .. kind .. " printed its report")
  t.is(slurp(err), "", "vmlab report " .. kind .. ": stderr is empty")
  t.unlike(out, "\27%[K", "vmlab report " .. kind .. ": no line drawn into stdout")
end

os.execute("rm -rf " .. q(tmp))
t.done_testing()
