-- vmtrace, as Marcelo Tosatti's 2005 mail did it: reference traces of a
-- gcc compile and of a quicksort, drawn as virtual time against address,
-- and the miss-ratio curves of a few page-replacement policies on them.
--   vmlab examples/vmtrace.lua [output-dir]
local trace = require "vmlab.trace"
local seg = require "vmlab.seg"
local vmlab = require "vmlab"

local out = arg and arg[1] or os.getenv("TMPDIR") or "/tmp"
out = out .. "/vmtrace-" .. vmlab.pid()
os.execute("mkdir -p " .. out)

local function report(name, path)
  local c = trace.mrc(path, { points = 8 })
  local n = c.references -- every event is a reference to the simulators
  local sizes = {}
  for i, s in ipairs(c.sizes) do sizes[i] = string.format("%d:%.3f", s, c.miss_ratio[i]) end
  print(string.format("%s: %d events over %d pages; LRU miss ratio by frames %s", name, n, c.distinct,
    table.concat(sizes, " ")))
  local sim = trace.simulate(path, { policy = { "fifo", "lru", "clock", "arc", "linux", "opt" },
    frames = math.max(1, c.distinct // 8) })
  for _, r in ipairs(sim) do
    print(string.format("  %-6s %6d frames: %8d faults (%.4f)", r.policy, r.frames, r.faults, r.miss_ratio))
  end
  assert(trace.plot(path, { kind = "address", output = out .. "/" .. name .. ".png", title = name }))
  assert(trace.plot(path, { kind = "mrc", output = out .. "/" .. name .. "-mrc.png", title = name,
    policies = { "lru", "fifo", "clock", "arc", "linux", "opt" }, points = 8 }))
  print("  drawn: " .. out .. "/" .. name .. ".png, " .. name .. "-mrc.png")
end

-- 1. a gcc compile of a small file, exactly, under valgrind (vmlab's own
-- tool where it is built, else lackey; the compiler proper, cc1: the gcc
-- driver only forks it); data references only, and cut after 40 s (lackey
-- runs programs some 100 times slower; a cut trace is still a valid file)
local cc1 = io.popen("gcc -print-prog-name=cc1 2>/dev/null"):read("l")
if not cc1 or not cc1:match("/") then
  print("skip gcc: gcc is not installed")
elseif not os.execute("valgrind --version >/dev/null 2>&1") then
  print("skip gcc: valgrind is not installed")
else
  local src = out .. "/small.c"
  local f = assert(io.open(src, "w"))
  f:write("int square(int x) { return x * x; }\n")
  f:close()
  local t0 = vmlab.now()
  local r = assert(trace.lackey { command = { cc1, "-quiet", src, "-o", out .. "/small.s" },
    output = out .. "/gcc.trace", instructions = false, timeout = 40 })
  print(string.format("gcc (cc1): %d references in %.1f s under valgrind (%s)%s", r.references,
    vmlab.now() - t0, r.via, r.timed_out and " (cut at 40 s)" or ", exit " .. tostring(r.exit)))
  report("gcc", out .. "/gcc.trace")
end

-- 2. a quicksort over a segment, traced in process: 4096 elements, 8 to
-- a page; every element access touches its page, and with interval 0 and
-- window 1 every change of page is an event (the exact reference string)
do
  local psz = vmlab.pagesize()
  local n, per = 4096, 8
  local buf <close> = seg.anon("qsort", (n // per) * psz)
  buf:touch { op = "write" }
  local a = {}
  math.randomseed(42)
  for i = 1, n do a[i] = math.random(1 << 30) end
  local function at(i, op) buf:touch { op = op, offset = ((i - 1) // per) * psz, length = psz } end
  local tr <close> = trace.start { targets = { buf }, interval = 0, window = 1, output = out .. "/qsort.trace" }
  local function qsort(lo, hi)
    while lo < hi do
      local p = a[(lo + hi) // 2]
      at((lo + hi) // 2, "read")
      local i, j = lo, hi
      while i <= j do
        while (at(i, "read") or true) and a[i] < p do i = i + 1 end
        while (at(j, "read") or true) and a[j] > p do j = j - 1 end
        if i <= j then
          a[i], a[j] = a[j], a[i]
          at(i, "write"); at(j, "write")
          i, j = i + 1, j - 1
        end
      end
      if j - lo < hi - i then qsort(lo, j); lo = i else qsort(i, hi); hi = j end
    end
  end
  local t0 = vmlab.now()
  qsort(1, n)
  local st = tr:stop()
  for i = 2, n do assert(a[i - 1] <= a[i], "sorted") end
  print(string.format("qsort: %d page events in %.2f s", st.events, vmlab.now() - t0))
  report("qsort", out .. "/qsort.trace")
end
print("images and traces in " .. out)
