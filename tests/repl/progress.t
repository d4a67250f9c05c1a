-- Progress lines on a terminal (pty-drive.pl): a long monitor step run, a
-- monitor run of known length (snapshots{count}, snooze), `vmlab report`
-- on a record, vmlab.progress from Lua; short work draws nothing, and a
-- line is cleared when its loop raises.  tests/core/progress.t checks
-- that nothing reaches stderr when it is not a terminal.
local t = require "vmlab.tap"
t.requires { program = "perl" }
do
  local ok = os.execute("perl -MIO::Pty -e 1 2>/dev/null")
  if not ok then t.skip_all("needs Perl's IO::Pty (libio-pty-perl)") end
end

local vmlab = os.getenv("VMLAB") or "build/vmlab"
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p " .. tmp)

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Run a Lua script (or `vmlab ARGS`) on a terminal; env "1" draws any work
-- from its first update (no timing), nil leaves the real thresholds.
local function session(name, env, args, steps)
  local cmd = { env and "VMLAB_PROGRESS=" .. env or "env -u VMLAB_PROGRESS", "PTY_TIMEOUT=30",
    "perl", q(dir .. "/pty-drive.pl"), q(vmlab) }
  for _, a in ipairs(args) do cmd[#cmd + 1] = q(a) end
  cmd[#cmd + 1] = "--"
  for _, s in ipairs(steps) do cmd[#cmd + 1] = q(s) end
  local p = assert(io.popen(table.concat(cmd, " ") .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  if not t.ok(ok, name) then t.diag(out) end
  return out:match("transcript:\n(.*)$") or out
end

local function script(name, src)
  local path = tmp .. "/" .. name .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  return path
end

local monitor = [[
local damon = require "vmlab.damon"
local vmlab = require "vmlab"
local base, size = 0x100000000, 64 << 20
local function mon(oracle)
  return damon.monitor { backend = "replay", targets = { { start = base, ["end"] = base + size } },
    oracle = oracle or function(a) return a < base + size // 10 end }
end
]]

-- A step run that takes over a second whatever the machine (each oracle
-- call sleeps 50 us; about 24 calls a sample): the real thresholds.
local out = session("a long m:step run draws its line on a terminal", nil,
  { script("step", monitor .. [[
local m = mon(function(a) vmlab.snooze(5e-5) return a < base + size // 10 end)
io.write("aggregations ", m:step(1000), "\n")
]]) }, { "expect:m:step samples: \\d+ of 1000 \\(\\d+%\\), \\d+/s, [\\d.]+ s left",
  "expect:\\e\\[K\\e\\[Kaggregations 50\\n" })
t.unlike(out, "snooze:", "the oracle's short snoozes draw nothing")

out = session("a short m:step run draws nothing", nil,
  { script("short", monitor .. "mon():step(100); print('done')\n") }, { "expect:done" })
t.unlike(out, "samples:", "no line for 100 samples")
t.unlike(out, "\27%[K", "nothing drawn, nothing cleared")

session("snapshots{count=N} counts aggregations; the for's closing value clears the line", "1",
  { script("snaps", monitor .. [[
local m, n = mon(), 0
for s in m:snapshots { count = 5 } do n = n + 1 end
print("got " .. n)
for s in m:snapshots { count = 50 } do n = n + 1; if n == 10 then break end end
print("broke at " .. n)
for s in m:snapshots { count = 50 } do n = n + 1; if n == 15 then error("boom") end end
]]) }, { "expect:m:snapshots: 1 of 5 \\(20%\\), \\d+/s, [\\d.]+ s left\\e\\[K\\e\\[Kgot 5\\n",
  "expect:m:snapshots: 1 of 50 \\(2%\\)[^\\n]*\\e\\[K\\e\\[Kbroke at 10\\n",
  "expect:m:snapshots: 1 of 50 \\(2%\\)[^\\n]*\\e\\[K\\e\\[K[^\\n]*boom" })

session("vmlab.snooze over 1 s (a monitor run of known length) shows the time left", nil,
  { script("snooze", "require('vmlab').snooze(1.2); print('woke')\n") },
  { "expect:snooze: [\\d.]+ s of 1.2 s \\(\\d+%\\), [\\d.]+x real time, [\\d.]+ s left", "expect:\\e\\[K\\e\\[Kwoke" })

session("vmlab.progress from Lua: update, done; to-be-closed on error", "1",
  { script("lua", [[
local progress = require "vmlab.progress"
local p = progress.start("copy", "4m", { unit = "bytes" })
p:update(1 << 20)
p:done()
print("active after done: " .. tostring(pcall(p.active, p)))
local ok = pcall(function()
  local s <close> = progress.start("scan", 10)
  s:update(3)
  error("stop")
end)
print("raised " .. tostring(not ok))
]]) }, { "expect:copy: 1 MiB of 4 MiB \\(25%\\), [\\d.]+ [KMG]iB/s, [\\d.]+ s left\\e\\[K\\e\\[K",
  "expect:active after done: false", "expect:scan: 3 of 10 \\(30%\\)[^\\n]*\\e\\[K\\e\\[Kraised true" })

-- A record of 400 snapshots x 20 regions (json.z): every phase of a
-- report draws its line, each cleared before the report prints.
local rec = tmp .. "/rec.data"
dofile(arg[0]:match("^(.*/)") .. "../report/synthrec.lua")(rec, 400, 20)

session("vmlab report heatmap: reading, loading and drawing show progress", "1",
  { "report", "heatmap", "-i", rec, "--resol", "4", "8", "--stdout_colorset", "none" },
  { "expect:read record: [\\d.]+ [KM]iB of [\\d.]+ [KM]iB", "expect:load record: \\d+ of 400",
    "expect:load snapshots: \\d+ of 400", "expect:record guide: \\d+ of 800", "expect:heatmap: \\d+ of 400",
    "expect:\\e\\[K\\e\\[K\\d{8}\\n" })

session("vmlab report wss: aggregation and the wss loop show progress", "1",
  { "report", "wss", "-i", rec }, { "expect:aggregate snapshots: \\d+ of 400", "expect:report wss: \\d+ of 380",
    "expect:\\e\\[K\\e\\[K# target_id\\t0\\n" })

os.execute("rm -rf " .. q(tmp))
t.done_testing()
