-- What the uffd scenarios share (dofile it): the skip when userfaultfd
-- with UFFDIO_MOVE is not here, the build's paths, a shell runner.
local t = require "vmlab.tap"
local ok, why = require("vmlab.uffd").available()
if not ok then t.skip_all(why) end
local M = {}
M.B = os.getenv("VMLAB_BUILD") or "build"
M.V = os.getenv("VMLAB") or (M.B .. "/vmlab")
-- vmlab record's attributes for the correctness runs: fast sampling, many
-- regions, a whole CPU, so that pages are out as often as can be
M.hard = "--sample 1ms --aggr 20ms --update 100ms --min 50 --max 2000 --budget 1"
-- Run cmd in a shell: its output (stderr too) and exit status (128 + the
-- signal when killed, as the shell says).
function M.sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local _, how, code = p:close()
  return out, how == "exit" and code or 128 + code
end
return M
