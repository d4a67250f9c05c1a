-- The record fuzzer, briefly (tests/fuzz/record_fuzz.c): seeded with real
-- records, it must find no crash, leak or sanitizer error in 20 seconds.
local t = require "vmlab.tap"
t.requires { program = "clang" }
local build = os.getenv("VMLAB_BUILD") or "build"
local root = (debug.getinfo(1, "S").source:match("^@(.*)/tests/fuzz/[^/]*$")) or "."
local bin = build .. "/fuzz/record_fuzz"
local ok = os.execute(string.format("make -s -C %s BUILD=%s fuzz >/dev/null 2>&1", root, build))
if not ok then t.skip_all("cannot build the libFuzzer target (clang with -fsanitize=fuzzer)") end

-- seeds: one record of each format
local rec = require "vmlab.record"
local corpus = os.tmpname()
os.remove(corpus)
os.execute("mkdir -p " .. corpus)
local snaps = { { time_us = 100000, targets = { { id = 1, regions = {
  { start = 4096, ["end"] = 8192, nr_accesses = 3, age = 1 },
  { start = 8192, ["end"] = 65536, nr_accesses = 0, age = 4 } } } } },
  { time_us = 200000, targets = { { id = 1, regions = { { start = 4096, ["end"] = 65536, nr_accesses = 1, age = 0 } } } } } }
for _, f in ipairs { "json_compressed", "json", "record" } do
  assert(rec.write(corpus .. "/seed." .. f, snaps, { format = f }))
end
local p = io.popen(string.format("%s -max_total_time=20 -rss_limit_mb=1024 -max_len=4096 %s 2>&1", bin, corpus))
local out = p:read("a")
local done = p:close()
t.ok(done, "20 seconds of fuzzing found nothing")
if not done then t.diag(out:sub(-3000)) end
t.like(out, "Done %d+ runs", "the fuzzer ran")
os.execute("rm -rf " .. corpus)
t.done_testing()
