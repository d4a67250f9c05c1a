-- vmlab's demo: a short scenario that shows what vmlab does and prints a
-- readable report.  Run it with `make demo` (or build/vmlab examples/demo.lua).
local vmlab = require "vmlab"
local seg = require "vmlab.seg"
local numa = require "vmlab.numa"

local function say(fmt, ...) print(string.format(fmt, ...)) end
local function has(mod) return package.preload[mod] ~= nil end
local mb = vmlab.fmtsize

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

-- What else this build has.
local mods = {}
for name in pairs(package.preload) do
  if name:match("^vmlab") then mods[#mods + 1] = name end
end
table.sort(mods)
say("\nmodules: %s", table.concat(mods, " "))
say("next: examples/heatmap.lua draws a recorded workload; examples/memtoy/ has memtoy scripts")
