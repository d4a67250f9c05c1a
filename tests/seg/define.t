-- Defining, mapping, unmapping and removing segments of every kind.
local t = require "vmlab.tap"
local seg = require "vmlab.seg"
local vmlab = require "vmlab"
local ps = vmlab.pagesize()

local a = seg.anon("a1", "1m")
t.type_ok(a, "vmlab.seg", "anon gives a segment")
t.is(a.name, "a1", "name")
t.is(a.kind, "anon", "kind")
t.is(a.size, 1024 * 1024, "size")
t.is(a.mapped, true, "mapped by default")
t.is(a.share, "private", "private by default")
t.is(a.pagesize, ps, "base page size")
t.cmp_ok(a.addr, ">", 0, "has an address")
t.is(a.addr % ps, 0, "page aligned")
t.like(tostring(a), "^segment 'a1' %(anon private 1 MiB at 0x", "__tostring")
t.is(seg.get("a1"), a, "get finds it by name")
t.error_like(function() seg.anon("a1", "4k") end, "a segment named 'a1' exists already", "names are unique")
t.error_like(function() seg.anon("zero", 0) end, "cannot be empty", "empty segment refused")
t.error_like(function() seg.anon("bad", "4x") end, "unknown suffix", "bad size refused")
t.error_like(function() seg.anon("", "4k") end, "1 to 63 characters", "empty name refused")
t.error_like(function() seg.anon("o", "4k", { share = "public" }) end, "private or shared", "bad share refused")

local sh = seg.anon("a2", "64k", { shared = true })
t.is(sh.share, "shared", "anon shared")

local lazy = seg.anon("lazy", "256k", { map = false })
t.is(lazy.mapped, false, "map=false defines it unmapped")
t.error_like(function() lazy:touch() end, "touch%(seg 'lazy'%): the segment is not mapped", "touch of an unmapped segment raises")
t.ok(lazy:map(), "map it later")
t.is(lazy.mapped, true, "now mapped")
t.error_like(function() lazy:map() end, "already mapped", "mapping twice raises")
t.is((lazy:touch()), 64, "touch all 64 pages")
t.ok(lazy:unmap(), "unmap")
t.is(lazy.mapped, false, "unmapped")
t.ok(lazy:map(), "map again")
t.ok(lazy:verify({ seed = 7 }) == false, "a fresh private mapping lost the old contents")

-- The list and memtoy's table.
local names = {}
for _, s in ipairs(seg.list()) do names[#names + 1] = s.name end
t.is_deeply(names, { "a1", "a2", "lazy" }, "list in definition order")
lazy:unmap()
local text = seg.show(nil, true)
t.like(text, "^  _____address______ ____length____ ____offset____ prot  share  name\n", "show has memtoy's header")
t.like(text, "\na 0x%x+ 0x000000100000 0x000000000000  rw%-  private a1\n", "show lists a mapped anon segment")
t.like(text, "\na 0x%x+ 0x000000010000 0x000000000000  rw%-  shared  a2\n", "shared segment")
t.like(text, "\na %(not mapped%)       0x000000040000 0x000000000000  rw%-  private lazy\n", "unmapped segment is marked")
t.like(seg.show("a2", true), "a2\n$", "show one by name")
t.error_like(function() seg.show("nosuch", true) end, "no segment named 'nosuch'", "show of a missing name")

-- remove/close are idempotent; a closed segment raises on use.
local function mapped_at(addr)
  for _, e in ipairs(seg.maps()) do
    if e.start <= addr and addr < e["end"] then return e end
  end
end
local a_addr, a_size = a.addr, a.size
t.ok(mapped_at(a_addr), "before remove its memory is mapped")
a:remove()
t.is(a.closed, true, "remove closes the segment")
local left = mapped_at(a_addr)
t.ok(not left or left.start ~= a_addr or left["end"] ~= a_addr + a_size, "remove unmapped its memory")
a:close()
t.is(tostring(a), "segment (closed)", "closed __tostring")
t.error_like(function() a:touch() end, "closed segment", "use after close raises")
t.is(seg.get("a1"), nil, "removed from the registry")
do
  local scoped <close> = seg.anon("scoped", "4k")
  t.ok(scoped.mapped, "a <close> segment")
end
t.is(seg.get("scoped"), nil, "<close> removed it")
t.ok(seg.anon("a1", "4k"), "its name can be used again")

-- Files.
local path = os.tmpname()
local f = seg.file(path, { create = "1m", shared = true })
t.is(f.kind, "file", "file kind")
t.is(f.name, path:match("[^/]+$"), "named by the basename")
t.is(f.size, 1024 * 1024, "create= sized it")
t.is(f.share, "shared", "shared file")
f:fill({ seed = 3 })
f:close()
local g = seg.file(path, { name = "tail", offset = "256k", length = "*" })
t.is(g.size, 768 * 1024, "length '*' maps to the end of the file")
t.is(g.offset, 256 * 1024, "offset")
t.ok(g:verify({ seed = 3 }), "a second mapping at an offset sees what the first wrote")
local v, first = g:verify({ seed = 4 })
t.is(v, false, "verify with another seed fails")
t.is(first, 0, "at the first word")
g:close()
local r = seg.file(path, { name = "ro", readonly = true })
t.is(r.prot, "r--", "readonly file is mapped read-only")
t.error_like(function() r:touch("write") end, "touch%(seg 'ro' %+0x0%): SIGSEGV: access not permitted by the protection %(page protection r%-%-%)", "writing a read-only mapping raises")
r:close()
local nf, msg, err = seg.file("/nonexistent/dir/file")
t.is(nf, nil, "a missing file fails")
t.like(msg, "^file%('/nonexistent/dir/file'%): No such file or directory$", "naming the call")
t.is(err, 2, "with ENOENT")
t.error_like(function() seg.file(path, { offset = 100 }) end, "not page aligned", "unaligned offset raises")
local beyond, bmsg, berr = seg.file(path, { offset = "4m" })
t.is(beyond, nil, "an offset past the end fails")
t.like(bmsg, "offset 4194304 is at or past the end of the file %(1048576 bytes%)", "saying the offset and the file size")
t.is(berr, 6, "with ENXIO")
os.remove(path)

-- SysV shm and memfd.
local shm = seg.shmem("shm1", "1m")
t.is(shm.kind, "shmem", "shmem kind")
t.is(shm.share, "shared", "shmem is shared")
t.is((shm:touch()), 256, "touch shmem")
t.ok(shm:unmap() and shm:map(), "shmem unmap and map again")
local mf = seg.memfd("mfd1", "1m")
t.is(mf.kind, "memfd", "memfd kind")
t.is((mf:touch("rmw")), 256, "touch memfd")
t.ok(mf:fill() and mf:verify(), "memfd keeps its contents")
t.ok(mf:unmap() and mf:map() and mf:verify(), "and across unmap/map, being shared")

-- Huge pages.
local hp = seg.anon("huge", "4m", { huge = true })
t.ok(hp.huge, "huge anon (MADV_HUGEPAGE)")
local ok_hugetlb, why = t.check { hugepages = 2 }
if ok_hugetlb then
  local hs = seg.shmem("hshm", "4m", { huge = true })
  t.ok(hs, "SHM_HUGETLB segment")
  t.cmp_ok(hs.pagesize, ">", ps, "with the huge page size")
else
  t.skip(why, 2)
end
-- A hugetlb memfd maps when huge pages are free (and touching it works),
-- and fails with ENOMEM, naming the call, when none are.
local hm, hmsg, herr = seg.memfd("hmfd", "4m", { huge = true, map = true })
if ok_hugetlb then
  t.ok(hm, "hugetlb memfd with free huge pages: " .. tostring(hmsg))
  t.cmp_ok(hm and hm.pagesize or 0, ">", ps, "hugetlb memfd page size")
  t.ok(hm and pcall(hm.touch, hm), "touching a hugetlb memfd works")
else
  t.is(hm, nil, "no free huge pages: a hugetlb memfd cannot map")
  t.like(hmsg, "^memfd%('hmfd', 4 MiB, huge%): Cannot allocate memory$", "naming the call")
  t.is(herr, 12, "with ENOMEM")
end
t.done_testing()
