-- vmlab.pool: allocation contracts on a file-backed pool.
local t = require "vmlab.tap"
local pool = require "vmlab.pool"

t.error_like(function() pool.create{ dir = "/tmp", size = "13m" } end, "at least 14680064 bytes", "size below VMMALLOC_MIN_POOL raises")
t.error_like(function() pool.create{ size = "16m" } end, "exactly one of dir= and path=", "dir= or path= is needed")
t.error_like(function() pool.create{ dir = "/tmp", path = "/tmp/x", size = "16m" } end, "exactly one", "not both")
local none, msg, err = pool.create{ dir = "/nonexistent/vmlab", size = "16m" }
t.is(none, nil, "a missing directory fails")
t.like(msg, "pool.create%(dir='/nonexistent/vmlab', size=16777216%): No such file", "the message names the call: " .. tostring(msg))
t.is(err, 2, "with ENOENT")

local p = pool.create{ dir = "/tmp", size = "16m" }
t.ok(p, "create a 16 MiB pool")
t.like(tostring(p), "^pool:%d+ %(16777216 bytes", "tostring")
local base, size = p:base(), p:stats().size
t.is(size, 16 * 1024 * 1024, "stats().size")

-- alignment and usable size
for _, align in ipairs{ 16, 64, 4096, 65536 } do
  local a = p:alloc(100, align)
  t.is(a % align, 0, "alloc(100, " .. align .. ") is aligned")
  t.ok(a >= base and a + 100 <= base + size, "and inside the pool")
  p:free(a)
end
for _, n in ipairs{ 1, 7, 100, 4000, 70000 } do
  local a = p:alloc(n)
  t.cmp_ok(p:usable(a), ">=", n, "usable >= " .. n)
  p:free(a)
end
local z = p:alloc(0)
t.ok(z and z >= base and z < base + size, "alloc(0) gives a block of the pool, as malloc(0) does")
t.cmp_ok(p:usable(z), ">=", 1, "a minimal one (usable " .. p:usable(z) .. ")")
p:free(z)
t.error_like(function() p:alloc(10, 24) end, "power of two", "a bad alignment raises")

-- realloc keeps contents
local a = p:alloc(64)
p:write(a, "contents that must survive")
local b = p:realloc(a, 1024 * 1024)
t.ok(b, "realloc to 1 MiB")
t.is(p:read(b, 26), "contents that must survive", "realloc keeps contents")
t.error_like(function() p:free(a) end, "not a live block", "the old address is no longer live")
b = p:realloc(b, 10)
t.is(p:read(b, 10), "contents t", "shrinking keeps the head")
t.error_like(function() p:read(b, 100000) end, "outside the block", "read past the block raises")
p:free(b)

-- double free and foreign pointers raise
local c = p:alloc(32)
p:free(c)
t.error_like(function() p:free(c) end, "free%(pool:%d+, 0x%x+%): not a live block of this pool %(double free", "double free raises")
t.error_like(function() p:free(base + 12345) end, "not a live block", "an address inside the pool that is not a block raises")
t.error_like(function() p:free(4096) end, "not a live block", "a foreign pointer raises")
t.error_like(function() p:usable(4096) end, "not a live block", "usable of a foreign pointer raises")
t.error_like(function() p:realloc(c, 10) end, "not a live block", "realloc of a freed block raises")

-- exhaustion: nil, msg, ENOMEM, and the blocks already there are intact
local blocks, n = {}, 0
while true do
  local x, m, e = p:alloc("1m")
  if not x then
    t.like(m, "alloc%(pool:%d+, 1048576, align 0%): Cannot allocate memory", "exhaustion message: " .. m)
    t.is(e, 12, "exhaustion is ENOMEM")
    break
  end
  n = n + 1
  blocks[n] = x
  p:write(x, ("block %d"):format(n))
  if n >= 17 then t.fail("a 16 MiB pool grew past 16 blocks") break end
end
t.cmp_ok(n, ">=", 8, "most of the pool is usable for 1 MiB blocks (" .. n .. ")")
local intact = true
for i, x in ipairs(blocks) do
  if p:read(x, #("block " .. i)) ~= "block " .. i then intact = false end
end
t.ok(intact, "the blocks allocated before exhaustion are intact")
local st = p:stats()
t.is(st.live, n, "stats().live counts the live blocks")
t.cmp_ok(st.allocated, ">=", n * 1024 * 1024, "stats().allocated")
t.cmp_ok(st.mapped, "<=", st.size, "stats().mapped within the pool")
local probe = os.tmpname()
if os.execute("fallocate -l 4096 " .. probe .. " 2>/dev/null") then
  t.ok(st.reserved >= n * 1024 * 1024 and st.reserved <= st.size,
    "stats().reserved: file space held for the blocks (" .. st.reserved .. " bytes)")
else
  t.skip("/tmp's filesystem cannot fallocate: pools there stay sparse")
end
os.remove(probe)
t.cmp_ok(st.fails, ">=", 1, "stats().fails counts the refusal")
for _, x in ipairs(blocks) do p:free(x) end
t.is(p:stats().live, 0, "all freed")
local again = 0
for i = 1, n do if p:alloc("1m") then again = again + 1 end end
t.is(again, n, "the freed space is reused")

p:close()
p:close()
t.error_like(function() p:alloc(1) end, "closed pool", "a closed pool raises")
t.is(tostring(p), "pool (closed)", "tostring of a closed pool")
t.done_testing()
