-- Touch, fill/verify, protections and faults, advice, residency.
local t = require "vmlab.tap"
local seg = require "vmlab.seg"
local vmlab = require "vmlab"
local ps = vmlab.pagesize()

local s = seg.anon("buf", "1m")
t.is(select(1, s:resident()), 0, "a fresh segment has no resident pages")
local pages, secs = s:touch("read")
t.is(pages, 256, "touch read visits every page")
t.type_ok(secs, "float", "and returns seconds")
t.is((s:touch({ op = "write", offset = "64k", length = "64k" })), 16, "offset and length")
t.is((s:resident({ offset = "64k", length = "64k" })), 16, "those pages are resident")
t.is((s:touch({ op = "rmw", order = "random", seed = 9 })), 256, "random order still visits every page once")
t.is((s:touch({ op = "write", order = "stride", stride = 7 })), 256, "stride order visits every page once")
t.is((s:touch({ op = "write", all = true })), 256, "all=true writes whole pages")
t.error_like(function() s:touch("smash") end, "invalid option 'smash'", "unknown op")
t.error_like(function() s:touch({ order = "zigzag" }) end, "invalid option 'zigzag'", "unknown order")
t.error_like(function() s:touch({ offset = 100 }) end, "not page aligned", "unaligned offset")
t.error_like(function() s:touch({ offset = "1m", length = "4k" }) end, "outside its 1048576 bytes", "range past the end")
t.error_like(function() s:touch({ order = "stride", stride = 0 }) end, "bad option 'stride' %(0 is out of range %(1 to", "zero stride")

-- Faults become Lua errors, and the runtime goes on.
t.ok(s:protect("r", { offset = "8k", length = "4k" }), "protect one page read-only")
t.error_like(function() s:touch("write") end, "touch%(seg 'buf' %+0x2000%): SIGSEGV: access not permitted", "writing it raises, naming the offset")
t.is((s:touch("read")), 256, "reading it is fine")
t.ok(s:protect("none"), "protect the whole segment PROT_NONE")
t.error_like(function() s:touch("read") end, "%+0x0%): SIGSEGV: access not permitted by the protection %(page protection %-%-%-%)", "reading it raises with the protection")
t.error_like(function() s:fill() end, "fill%(seg 'buf' %+0x0%)", "fill of a protected segment raises")
t.ok(s:protect("rw"), "back to rw")
t.error_like(function() s:protect("rwz") end, "bad protection 'rwz'", "bad protection string")
local w = seg.wrap("hole", s.addr, s.size)
s:unmap()
t.error_like(function() w:touch() end, "touch%(seg 'hole' %+0x0%): SIGSEGV: address not mapped %(nothing mapped there%)", "touching an unmapped range raises")
t.is(vmlab.size("1k"), 1024, "the runtime still works after the faults")
w:close()
s:map()

-- fill/verify detect lost, stale and misplaced pages.
t.ok(s:fill({ seed = 5 }), "fill")
t.ok(s:verify({ seed = 5 }), "verify")
local ok, first, nbad = s:verify({ seed = 6 })
t.is(ok, false, "stale: another seed fails")
t.is(nbad, 256, "every page is bad")
t.ok(s:advise("dontneed", { offset = "16k", length = "8k" }), "dontneed two pages")
ok, first, nbad = s:verify({ seed = 5 })
t.is(ok, false, "lost pages are found")
t.is(first, 16384, "at their offset")
t.is(nbad, 2, "two pages")
s:fill({ seed = 5 })
local other = seg.anon("other", "1m")
other:fill({ seed = 5, offset = "4k", length = "4k" })
ok, first = other:verify({ seed = 5, offset = "4k", length = "4k" })
t.ok(ok, "same offset, same pattern")
ok = pcall(function()
  -- copy page 1 of buf over page 2 of buf: a misplaced page
  local src = seg.wrap("src", s.addr + ps, ps)
  src:close()
end)
t.ok(ok, "wrap and close leave the memory alone")
t.ok(s:verify({ seed = 5 }), "buf is intact after wrapping part of it")
other:close()

-- advice by name
for _, a in ipairs { "normal", "random", "sequential", "willneed", "cold", "pageout", "dontfork", "dofork", "hugepage", "nohugepage" } do
  local r, msg = s:advise(a)
  t.ok(r or msg:find("Invalid argument"), "advise " .. a .. (r and "" or " (kernel: " .. msg .. ")"))
end
t.error_like(function() s:advise("bogus") end, "unknown advice 'bogus' %(one of: normal random", "unknown advice lists the names")

-- residency and page table entries
s:touch("write")
local res, total, vec = s:resident({ pages = true })
t.is(res, 256, "all resident")
t.is(total, 256, "of 256")
t.is(#vec, 256, "one entry per page")
t.ok(s:advise("dontneed"), "dontneed everything")
t.is((s:resident()), 0, "nothing resident")
s:touch("write", { length = "8k" })
local pi = s:pages({ length = "16k" })
t.is(#pi, 4, "pages: one entry per page")
t.ok(pi[1].present and pi[2].present, "touched pages are present")
t.ok(not pi[3].present and not pi[4].present, "untouched pages are not")
local t_root = t.check { root = true }
if t_root then t.cmp_ok(pi[1].pfn or 0, ">", 0, "root sees the pfn") else t.skip("needs root for pfns", 1) end

-- /proc/self/maps entries as read-only segments
local maps = seg.maps()
t.cmp_ok(#maps, ">", 5, "maps lists the mappings")
local mine
for _, m in ipairs(maps) do
  if m.start == s.addr then mine = m end
end
t.ok(mine, "our segment is among them")
t.is(mine and mine.size, s.size, "with its size")
t.is(mine and mine.perms, "rw-p", "and perms")
t.is(mine and (mine:resident()), 2, "a maps entry answers resident()")
t.is(mine and #mine:where(), 256, "and where()")
t.done_testing()
