-- The fuzzers, briefly (tests/fuzz/*_fuzz.c): each, seeded with real
-- inputs, must find no crash, leak or sanitizer error in its seconds.
local t = require "vmlab.tap"
t.requires { program = "clang" }
local build = os.getenv("VMLAB_BUILD") or "build"
local root = (debug.getinfo(1, "S").source:match("^@(.*)/tests/fuzz/[^/]*$")) or "."
local ok = os.execute(string.format("make -s -C %s BUILD=%s fuzz >/dev/null 2>&1", root, build))
if not ok then t.skip_all("cannot build the libFuzzer targets (clang with -fsanitize=fuzzer)") end

local function fuzz(name, seconds, seeds)
  local corpus = os.tmpname()
  os.remove(corpus)
  os.execute("mkdir -p " .. corpus)
  seeds(corpus)
  local p = io.popen(string.format("%s/fuzz/%s -max_total_time=%d -rss_limit_mb=1024 -max_len=4096 %s 2>&1",
    build, name, seconds, corpus))
  local out = p:read("a")
  local done = p:close()
  t.ok(done, ("%s: %d seconds of fuzzing found nothing"):format(name, seconds))
  if not done then t.diag(out:sub(-3000)) end
  t.like(out, "Done %d+ runs", name .. ": the fuzzer ran")
  os.execute("rm -rf " .. corpus)
end

-- the record readers: one record of each format
fuzz("record_fuzz", 15, function(corpus)
  local rec = require "vmlab.record"
  local snaps = { { time_us = 100000, targets = { { id = 1, regions = {
    { start = 4096, ["end"] = 8192, nr_accesses = 3, age = 1 },
    { start = 8192, ["end"] = 65536, nr_accesses = 0, age = 4 } } } } },
    { time_us = 200000, targets = { { id = 1, regions = { { start = 4096, ["end"] = 65536, nr_accesses = 1, age = 0 } } } } } }
  for _, f in ipairs { "json_compressed", "json", "record" } do
    assert(rec.write(corpus .. "/seed." .. f, snaps, { format = f }))
  end
end)

-- the record readers by path: regular files, directories, FIFOs, devices
-- (the first byte picks the kind; see record_path_fuzz.c)
fuzz("record_path_fuzz", 10, function(corpus)
  local rec = require "vmlab.record"
  local snaps = { { time_us = 100000, targets = { { id = 1, regions = {
    { start = 4096, ["end"] = 8192, nr_accesses = 3, age = 1 } } } } } }
  for _, f in ipairs { "json_compressed", "record" } do
    local tmp = corpus .. "/tmp"
    assert(rec.write(tmp, snaps, { format = f }))
    local i = assert(io.open(tmp, "rb"))
    local data = i:read("a")
    i:close()
    os.remove(tmp)
    local o = assert(io.open(corpus .. "/seed." .. f, "wb"))
    o:write("\0" .. data)
    o:close()
  end
  for kind = 1, 8 do
    local o = assert(io.open(corpus .. "/kind" .. kind, "wb"))
    o:write(string.char(kind) .. "[{}]")
    o:close()
  end
end)

-- the text parsers: sizes, times, node lists, the seed's rule lines
fuzz("parse_fuzz", 10, function(corpus)
  local seeds = { "4k", "16m", "3p", "0x1000", "1g", "18446744073709551615", "5ms", "1.5s", "100us", "2m",
    "0-3,5", "*", "0x3", "all", "na 500M 90 99 100ms mlock", "2M null 5 null null null hugepage",
    "4K null    null 5    500ms null      pageout  # prcl", "min max min max min max madv_pageout" }
  for i, s in ipairs(seeds) do
    local f = assert(io.open(("%s/seed%d"):format(corpus, i), "w"))
    f:write(s)
    f:close()
  end
end)
-- the Lua-facing argument helpers: byte 0 picks the helper, byte 1 the
-- argument's form (string, double, integer, key=value table), then the bytes
fuzz("luaargs_fuzz", 10, function(corpus)
  local seeds = { "\0\0004k", "\0\00018446744073709551615", "\0\0004\0k", "\1\0005ms", "\1\0011e999s",
    "\2\0000xfffffffffffff000", "\5\0000-3,5", "\6\000*", "\7\000a\0b",
    "\8\003sample=5ms\nsmaple=1", "\9\003sample=1\n1=2", "\10\003offset=4k\nlength=-1",
    "\11\003sample=nan\naggr=1e999", "\12\003count=4294967297", "\13\003sample=2\non=t",
    "\14\003name={}", "\1\001\0\0\0\0\0\0\240\127", "\3\002\255\255\255\255\255\255\255\127" }
  for i, s in ipairs(seeds) do
    local f = assert(io.open(("%s/seed%d"):format(corpus, i), "wb"))
    f:write(s)
    f:close()
  end
end)
t.done_testing()
