-- The trace file: written, streamed back, converted to and from the text,
-- pages, csv and oracleGeneral formats; damaged files say what is wrong.
local tap = require "vmlab.tap"
local trace = require "vmlab.trace"

local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)

local evs = {}
math.randomseed(3)
local time = 0
for i = 1, 5000 do
  time = time + math.random(0, 50)
  evs[i] = { time = time, tid = 100 + math.random(0, 2), target = math.random(1, 2),
    page = 0x7f0000000 + math.random(0, 3000), kind = math.random() < 0.3 and "write" or "read" }
end
local targets = { { name = "heap", start = 0x7f0000000000, length = 1 << 24 },
  { name = "file", start = 0x7f0001000000, length = 1 << 20, inode = 1234, offset = 8192 } }

local w <close> = trace.writer(dir .. "/a.trace", { page_size = 4096, time_unit_ns = 1000, targets = targets })
for _, e in ipairs(evs) do w:write(e) end
tap.like(tostring(w), "5000 events", "the writer counts")
tap.ok(w:close(), "closed")
tap.ok(w:close(), "closing twice is fine")

local h = trace.header(dir .. "/a.trace")
tap.is(h.format, "binary", "binary by its magic")
tap.is(h.page_size, 4096, "page size")
tap.is(h.time_unit_ns, 1000, "time unit")
tap.is(#h.targets, 2, "two targets")
tap.is(h.targets[2].name, "file", "target name")
tap.is(h.targets[2].inode, 1234, "inode")
tap.is(h.targets[2].offset, 8192, "file offset")

local function all(path, fmt)
  local out = {}
  for e in trace.events(path, fmt) do out[#out + 1] = e end
  return out
end
tap.is_deeply(all(dir .. "/a.trace"), evs, "5000 events read back as written")
local f = io.open(dir .. "/a.trace", "rb")
local size = #f:read("a")
f:close()
tap.cmp_ok(size, "<", 5000 * 6, "delta-encoded and compressed: " .. size .. " bytes for 5000 events")

-- conversions both ways
for _, fmt in ipairs { "text", "csv", "oracleGeneral", "pages" } do
  local p = dir .. "/b." .. fmt
  tap.is(trace.convert(dir .. "/a.trace", p, { to = fmt }), 5000, "to " .. fmt)
  local back = all(p, fmt)
  local ok = #back == 5000
  for i = 1, #back do
    ok = ok and back[i].page == evs[i].page
    if fmt == "text" or fmt == "csv" then ok = ok and back[i].kind == evs[i].kind and back[i].time == evs[i].time end
  end
  tap.ok(ok, fmt .. " read back: pages" .. ((fmt == "text" or fmt == "csv") and ", kinds and times" or ""))
  local q = dir .. "/c." .. fmt .. ".trace"
  trace.convert(p, q, { from = fmt, to = "binary" })
  tap.is(#all(q), 5000, fmt .. " converted back to binary")
end

-- oracleGeneral's next access: the index of the next reference (from 1), -1 when none
do
  local p = dir .. "/o.oracleGeneral"
  local w2 <close> = trace.writer(p, { format = "oracleGeneral" })
  for _, pg in ipairs { 7, 8, 7, 9 } do w2:write(pg) end
  w2:close()
  local f2 = io.open(p, "rb")
  local data = f2:read("a")
  f2:close()
  tap.is(#data, 4 * 24, "24-byte records")
  local nexts = {}
  for i = 0, 3 do nexts[#nexts + 1] = (string.unpack("<I4I8I4i8", data, i * 24 + 1)) and select(4, string.unpack("<I4I8I4i8", data, i * 24 + 1)) end
  tap.is_deeply(nexts, { 3, -1, -1, -1 }, "next access times")
end

-- plain text with comments, both line forms
do
  local p = dir .. "/t.txt"
  local f3 = io.open(p, "w")
  f3:write("# a comment\n5\n0x10\n\n7 W 12\n")
  f3:close()
  local got = all(p)
  tap.is(#got, 3, "three references")
  tap.is(got[2].page, 16, "hex page")
  tap.is(got[3].kind, "write", "R|W form")
  f3 = io.open(p, "a")
  f3:write("7 X 12\n")
  f3:close()
  tap.error_like(function() all(p) end, "line 6: expected", "a bad line names its number")
end

-- a truncated binary trace reads up to the cut and then raises
do
  local f4 = io.open(dir .. "/a.trace", "rb")
  local data = f4:read("a")
  f4:close()
  f4 = io.open(dir .. "/cut.trace", "wb")
  f4:write(data:sub(1, #data // 2))
  f4:close()
  local n = 0
  local ok, err = pcall(function() for _ in trace.events(dir .. "/cut.trace") do n = n + 1 end end)
  tap.ok(not ok and err:match("truncated"), "a cut trace: " .. tostring(err))
  tap.cmp_ok(n, ">", 0, "the events before the cut were read (" .. n .. ")")
  f4 = io.open(dir .. "/junk.trace", "wb")
  f4:write("VMTRACE\0\2\0\0\0")
  f4:close()
  tap.error_like(function() trace.header(dir .. "/junk.trace") end, "header", "a bad header")
end

-- simulate reads files
tap.is(trace.simulate(dir .. "/a.trace", { policy = "lru", frames = 100000 })[1].faults,
  (function() local s, n = {}, 0 for _, e in ipairs(evs) do if not s[e.page] then s[e.page] = true; n = n + 1 end end return n end)(),
  "simulate on a file: only cold misses with enough frames")
tap.error_like(function() trace.events(dir .. "/missing") end, "open%(.*missing%)", "a missing file")
tap.error_like(function() trace.events(dir .. "/a.trace", "xml") end, "unknown trace format", "a bad format")

-- the command line
local vm = os.getenv("VMLAB") or "build/vmlab"
local p = io.popen(vm .. " trace simulate -i " .. dir .. "/a.trace --policy lru,fifo --frames 10,100 --format tsv")
local out = p:read("a")
p:close()
tap.like(out, "^policy\tframes\treferences\tfaults\tmiss_ratio\nlru\t10\t5000\t%d+\t0%.%d+\n", "simulate --format tsv")
local _, _, code = os.execute(vm .. " trace simulate -i " .. dir .. "/a.trace --frames x 2>/dev/null")
tap.is(code, 2, "a bad --frames exits 2")
p = io.popen(vm .. " trace simulate -i " .. dir .. "/missing.trace --frames 3 2>&1")
local msg = p:read("a")
p:close()
tap.like(msg, "^vmlab trace: open%(.*missing%.trace%): No such file", "a missing file: one line, no traceback")
os.execute("rm -rf " .. dir)
tap.done_testing()
