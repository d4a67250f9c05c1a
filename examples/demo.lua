-- vmlab's demo: a short scenario that shows what vmlab does and prints a
-- readable report.  Run it with `make demo` (or build/vmlab examples/demo.lua).
local vmlab = require "vmlab"
local seg = require "vmlab.seg"
local numa = require "vmlab.numa"

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function has(mod) return package.preload[mod] ~= nil end
local mb = vmlab.fmtsize
local pagesize = vmlab.pagesize()

say("vmlab %s, page size %s", vmlab.version, mb(vmlab.pagesize()))
local nodes = numa.nodes()
say("NUMA: %d node(s)%s", #nodes, #nodes > 0 and
  string.format(", node %d has %s free of %s", nodes[1].id, mb(nodes[1].free), mb(nodes[1].total)) or "")

-- 1. A segment, touched in three ways, and what the kernel says about it.
local buf <close> = seg.anon("buf", "64m")
say("\n1. segments")
seg.show()
local pages, secs = buf:touch({ op = "write", length = "16m" })
say("   wrote one word in each of %d pages in %.1f ms", pages, secs * 1e3)
local res, total = buf:resident()
say("   resident: %d of %d pages (%s)", res, total, mb(res * vmlab.pagesize()))
pages, secs = buf:touch({ op = "read", order = "random", seed = 42 })
say("   read all %d pages in random order in %.1f ms (first touches fault in zero pages)", pages, secs * 1e3)
local counts = buf:numa_counts()
local parts = {}
for node, n in pairs(counts) do
  if node ~= "absent" then parts[#parts + 1] = string.format("node %d: %d pages", node, n) end
end
say("   placement (move_pages query, faults nothing in): %s; %d not present",
  table.concat(parts, ", "), counts.absent)

-- 2. Contents: a pattern that catches lost pages.
say("\n2. fill, drop, verify")
buf:fill({ seed = 7 })
buf:advise("dontneed", { offset = "8m", length = "1m" })
local ok, first, nbad = buf:verify({ seed = 7 })
say("   after MADV_DONTNEED on 1 MiB: verify %s, first bad offset %s, %d bad pages",
  ok and "passed" or "failed", first and string.format("0x%x", first) or "-", nbad or 0)

-- 3. A fault inside a scenario is an error, not a dead runtime.
say("\n3. protection faults")
buf:protect("r", { offset = "4m", length = "4k" })
local died, err = pcall(buf.touch, buf, "write")
say("   writing a read-only page: %s", died and "no fault?" or err:gsub("^.-: touch", "touch"))
buf:protect("rw")

-- 4. Policies: what the kernel accepts on this machine.
say("\n4. memory policy")
local r, msg = buf:mbind("bind", { nodes[#nodes].id + 1 })
say("   bind to a node that does not exist: %s", r and "accepted?" or msg)
buf:mbind("interleave", "*")
say("   interleave over all nodes: policy now '%s'", (buf:policy()))

-- 5. The sampler: DAMON's regions on a workload with a known hot spot.
say("\n5. access sampling (prot backend: PROT_NONE on one page per region)")
local damon = require "vmlab.damon"
local workload = require "vmlab.workload"
local w <close> = workload.start { target = buf, pattern = "hotspot",
  hot = { offset = "40m", length = "8m" }, hot_share = 1 }
local m <close> = damon.monitor { targets = { buf }, sample = "2ms", aggr = "40ms", budget = 0.25 }
m:start()
vmlab.snooze("1s")
m:stop()
w:stop()
local hot_lo, hot_hi
for _, r in ipairs(m:snapshot().targets[1].regions) do
  if r.nr_accesses > 0 then
    hot_lo = math.min(hot_lo or r.start, r.start)
    hot_hi = math.max(hot_hi or r["end"], r["end"])
  end
end
local st = m:stats()
say("   %d samples, %d aggregations, %d regions, %.1f%% of a CPU", st.samples, st.aggregations,
  st.nr_regions, 100 * st.cpu_seconds / 1)
if hot_lo then
  say("   accessed: +%s .. +%s (the workload's hot range is +40 MiB .. +48 MiB)",
    mb(hot_lo - buf.addr), mb(hot_hi - buf.addr))
  say("   ground truth: the workload touched %s", mb(w:truth().bytes))
end

-- 6. A scheme (DAMOS): page out what stays cold, keep what is hot.
say("\n6. an access-pattern scheme: page out file pages idle for 5 aggregations")
local damos = require "vmlab.damos"
local path = os.tmpname()
local f <close> = assert(seg.file(path, { name = "cold", create = "32m" }))
os.remove(path)
f:advise("random")                -- no read-around refilling what was paged out
f:touch("read")
local fw <close> = workload.start { target = f, pattern = "hotspot", op = "read",
  hot = { offset = "8m", length = "4m" }, hot_share = 1 }
local fm <close> = damon.monitor { targets = { f }, sample = "5ms", aggr = "50ms", budget = 0.3, min_regions = 16 }
local sc = fm:scheme(assert(damos.parse("4K max  0 0  5 max  pageout"))[1])
local before = f:resident()
fm:start()
vmlab.snooze("1s")
fm:stop()
fw:stop()
local after, total = f:resident()
local hot_res, hot_total = f:resident { offset = "8m", length = "4m" }
local sst = sc:stats()
say("   resident: %s -> %s of %s; the hot 4 MiB: %.0f%% resident",
  mb(before * pagesize), mb(after * pagesize), mb(total * pagesize), 100 * hot_res / hot_total)
say("   the scheme paged out %d regions (%s, counting regions it met again)", sst.nr_applied, mb(sst.sz_applied))

-- 7. A pool: a heap carved from a file mapping (libvmmalloc's idea, in Lua).
say("\n7. a pool on a memory-mapped file")
local pool = require "vmlab.pool"
local p <close> = assert(pool.create { dir = os.getenv("TMPDIR") or "/tmp", size = "16m" })
local blocks = {}
for i = 1, 1000 do blocks[i] = p:alloc(16 * i) end
local pst = p:stats()
say("   1000 blocks of 16 B .. 16 KiB: %s allocated, %s mapped of a %s pool",
  mb(pst.allocated), mb(pst.mapped), mb(pst.size))
for _, a in ipairs(blocks) do p:free(a) end
local ps = p:segment()
say("   the pool is a segment too: %s, %d of %d pages resident", tostring(ps), ps:resident())
local so = (os.getenv("VMLAB_BUILD") or "build") .. "/libvmmalloc.so"
if io.open(so) then
  local cmd = ("seq 100000 | VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=%d LD_PRELOAD=%s sort -rn | head -n 1")
    :format(64 << 20, so)
  local out = io.popen(cmd):read("a"):gsub("%s+$", "")
  say("   sort with its heap in a 64 MiB pool (LD_PRELOAD=libvmmalloc.so): largest is %s", out)
end

-- What else this build has.
local mods = {}
for name in pairs(package.preload) do
  if name:match("^vmlab") then mods[#mods + 1] = name end
end
table.sort(mods)
say("\nmodules: %s", table.concat(mods, " "))
say("next: examples/heatmap.lua draws a recorded workload; ethp.lua and prcl.lua run the DAMON paper's schemes;")
say("      examples/memtoy/ has memtoy scripts")
