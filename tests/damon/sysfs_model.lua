-- A model of DAMON's sysfs tree in a temporary directory, for the tests
-- that must never touch the host's (dofile'd by kernel.t and kdamond.t):
-- dir (unmade until the first mk), mk(path[, content]) writes a file,
-- creating its directories, cat(path) reads one (nil when absent).
local M = {}
M.dir = os.tmpname()
os.remove(M.dir)

function M.mk(path, content)
  os.execute("mkdir -p '" .. (M.dir .. "/" .. path):match("^(.*)/[^/]*$") .. "'")
  local f = assert(io.open(M.dir .. "/" .. path, "w"))
  f:write(content or "")
  f:close()
end

function M.cat(path)
  local f = io.open(M.dir .. "/" .. path)
  if not f then return nil end
  local s = f:read("a"):gsub("\n$", "")
  f:close()
  return s
end

return M
