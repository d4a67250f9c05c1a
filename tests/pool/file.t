-- vmlab.pool: the memory is the file; several pools; the pool as a segment.
local t = require "vmlab.tap"
local pool = require "vmlab.pool"
local seg = require "vmlab.seg"

local path = os.tmpname()   -- creates the file
local f0 = assert(io.open(path, "w"))
f0:write("somebody's data")
f0:close()
local none, msg, err = pool.create{ path = path, size = "14m" }
t.is(none, nil, "an existing file is refused")
t.like(msg, "would overwrite the file %(pass replace=true to do so%): File exists", "saying so: " .. tostring(msg))
t.is(err, 17, "EEXIST")
f0 = assert(io.open(path))
t.is(f0:read("a"), "somebody's data", "and left as it was")
f0:close()
t.error_like(function() pool.create{ path = path, size = "14m", replce = true } end,
  "pool.create: unknown option 'replce' %(did you mean 'replace'%?%)", "a misspelled option raises, naming it")
none, msg = pool.create{ path = "/dev/null", size = "14m", replace = true }
t.like(msg, "not a regular file", "a device is refused even with replace=true: " .. tostring(msg))
local p = pool.create{ path = path, size = "14m", replace = true }
t.ok(p, "a pool on a named file, replacing it")
t.is(p:path(), path, "p:path()")
local a = p:alloc(4096, 4096)
p:write(a, "written through the pool")
local f = assert(io.open(path, "rb"))
f:seek("set", a - p:base())
t.is(f:read(24), "written through the pool", "the bytes land in the file at the block's offset")
f:close()

local q = pool.create{ dir = "/tmp", size = "14m" }
t.ok(q, "a second pool at the same time")
t.is(q:path(), nil, "an unnamed pool has no path")
local b = q:alloc(100)
t.error_like(function() p:free(b) end, "not a live block", "a block of one pool is foreign to the other")
q:write(b, "q")
t.is(p:read(a, 7), "written", "writing in one pool leaves the other alone")
q:free(b)

local s = p:segment()
t.ok(s, "p:segment()")
t.like(s.name, "^pool:%d+$", "named pool:<n>: " .. s.name)
t.is(s.addr, p:base(), "at the pool's address")
t.is(s.size, p:stats().size, "of the pool's size")
t.is(s.share, "shared", "shared, as the pool's file mapping is")
t.is(p:segment(), s, "the same segment each time")
t.is(seg.get(s.name), s, "seg.get finds it")
t.ok(s:touch("read") > 0, "touch reads the pool's pages")
t.cmp_ok((s:resident()), ">", 0, "resident pages")
t.ok(s:where(), "where")
t.isnt(q:segment().name, s.name, "each pool has its own segment")
local name = s.name
p:close()
t.is(seg.get(name), nil, "closing the pool forgets its segment")
q:close()
os.remove(path)
t.done_testing()
