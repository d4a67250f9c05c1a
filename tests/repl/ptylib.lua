-- What the pty tests share (dofile'd, as tests/kernel/kguest.lua is): skip
-- without Perl's IO::Pty, a fresh XDG_STATE_HOME (history files), and
-- sessions driven through tests/repl/pty-drive.pl.
local t = require "vmlab.tap"
t.requires { program = "perl" }
if not os.execute("perl -MIO::Pty -e 1 2>/dev/null") then
  t.skip_all("needs Perl's IO::Pty (libio-pty-perl)")
end

local M = {}
local vmlab = os.getenv("VMLAB") or "build/vmlab"
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
M.state = os.tmpname()
os.remove(M.state)
os.execute("mkdir -p " .. M.state)

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- M.timeout: seconds each step may wait (10 unless set).
-- Run one session; returns ok (every expect matched) and the transcript.
function M.session(steps, args)
  local cmd = { "XDG_STATE_HOME=" .. q(M.state), "PTY_TIMEOUT=" .. (M.timeout or 10), "perl",
    q(dir .. "/pty-drive.pl"), q(vmlab) }
  for _, a in ipairs(args or {}) do cmd[#cmd + 1] = q(a) end
  cmd[#cmd + 1] = "--"
  for _, s in ipairs(steps) do cmd[#cmd + 1] = q(s) end
  local p = assert(io.popen(table.concat(cmd, " ") .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

-- A session as one test named `name`; its transcript on failure.
function M.check(name, steps, args)
  local ok, out = M.session(steps, args)
  if not t.ok(ok, name) then t.diag(out) end
  return out
end

return M
