-- vmlab.pool under misuse: every bad call raises (or fails) with a message
-- naming what was wrong, 100 times over, and leaks nothing (`make asan`
-- runs this under LeakSanitizer, which fails the run on any leak).
local t = require "vmlab.tap"
local pool = require "vmlab.pool"

local path = os.tmpname()   -- exists: a pool there needs replace=true
local bad = {
  { "create: unknown option", function() pool.create{ dir = "/tmp", size = "16m", sise = 1 } end,
    "pool.create: unknown option 'sise' %(did you mean 'size'%?%)" },
  { "create: misspelled replace", function() pool.create{ path = path, size = "16m", replace_ = true } end,
    "unknown option 'replace_'" },
  { "create: not a table", function() pool.create("/tmp") end, "table expected" },
  { "create: size too small", function() pool.create{ dir = "/tmp", size = 100 } end, "at least 14680064 bytes" },
  { "create: bad size", function() pool.create{ dir = "/tmp", size = "16q" } end, "16q" },
  { "create: neither dir nor path", function() pool.create{ size = "16m" } end, "exactly one of dir= and path=" },
}
local p = assert(pool.create{ dir = "/tmp", size = "16m" })
local a = p:alloc(64)
bad[#bad + 1] = { "alloc: bad alignment", function() p:alloc(10, 24) end, "power of two" }
bad[#bad + 1] = { "alloc: negative size", function() p:alloc(-1) end, "negative" }
bad[#bad + 1] = { "free: foreign pointer", function() p:free(12345) end, "not a live block" }
bad[#bad + 1] = { "realloc: foreign pointer", function() p:realloc(12345, 10) end, "not a live block" }
bad[#bad + 1] = { "usable: foreign pointer", function() p:usable(12345) end, "not a live block" }
bad[#bad + 1] = { "write: past the block", function() p:write(a, string.rep("x", 100000)) end, "outside the block" }
bad[#bad + 1] = { "read: past the block", function() p:read(a, 100000) end, "outside the block" }
bad[#bad + 1] = { "read: bad offset", function() p:read(a, 1, "1x") end, "1x" }
bad[#bad + 1] = { "method on a non-pool", function() p.alloc({}, 10) end, "vmlab.pool.pool expected" }

for _, b in ipairs(bad) do
  local wrong
  for _ = 1, 100 do
    local ok, err = pcall(b[2])
    if ok then wrong = "no error" elseif not tostring(err):match(b[3]) then wrong = tostring(err) end
  end
  t.ok(not wrong, b[1] .. ": 100 calls raise, naming what was wrong" .. (wrong and (" (" .. wrong .. ")") or ""))
end

-- system failures: nil, message, errno, 100 times, nothing kept
local fails = 0
for _ = 1, 100 do
  local x, msg, e = pool.create{ path = path, size = "16m" }
  if x == nil and e == 17 and msg:match("replace=true") then fails = fails + 1 end
  x, msg, e = pool.create{ dir = "/nonexistent/vmlab", size = "16m" }
  if x == nil and e == 2 then fails = fails + 1 end
end
t.is(fails, 200, "an existing path and a missing directory fail 100 times each with nil, message, errno")

-- pools made and dropped without close: collected, nothing left
for _ = 1, 20 do
  local q = pool.create{ dir = "/tmp", size = "16m" }
  q:alloc(1000)
end
collectgarbage()
collectgarbage()
p:free(a)
p:close()
os.remove(path)
t.pass("pools left to the collector are closed by it")
t.done_testing()
