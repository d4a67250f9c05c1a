-- Records vmlab writes, read by damo: damo 3.x on json_compressed, damo
-- 2.x on the binary 'record' format, and its reports equal vmlab's number
-- for number.  Runs when damo is there: VMLAB_DAMO (damo 3.x's damo
-- script, or `damo` on PATH) and VMLAB_DAMO2 (damo 2.x's); skips otherwise.
local t = require "vmlab.tap"
local damon = require "vmlab.damon"
local record = require "vmlab.record"
local vmlab_bin = os.getenv("VMLAB") or "build/vmlab"

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end
local function exists(p) local f = io.open(p or "") if f then f:close() return true end end

local damo3 = os.getenv("VMLAB_DAMO")
if not exists(damo3) then
  local w = sh("command -v damo")
  damo3 = w:match("^(/%S+)")
  if damo3 and not sh("damo version"):match("^3%.") then damo3 = nil end
end
local damo2 = os.getenv("VMLAB_DAMO2")
if not exists(damo2) then damo2 = nil end
if not damo3 and not damo2 then
  t.skip_all("damo not found (set VMLAB_DAMO to damo 3.x's damo script, VMLAB_DAMO2 to damo 2.x's)")
end

-- A deterministic run: the replay backend over a 256 MiB range with a hot
-- band moving up every 10 aggregations, 60 aggregations.
local MiB = 1 << 20
local base = 0x7f0000000000
local m = damon.monitor { targets = { { start = base, ["end"] = base + 256 * MiB } }, backend = "replay",
  sample = "5ms", aggr = "100ms", seed = 3,
  oracle = function(addr, now)
    local phase = now // 1000000
    local lo = base + phase * 32 * MiB
    return addr >= lo and addr < lo + 48 * MiB
  end }
local snaps = {}
m:on_aggregate(function(s) snaps[#snaps + 1] = s end)
m:step(20 * 60)
m:close()
t.is(#snaps, 60, "60 snapshots recorded")
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)
local iv = { intervals = { sample = 0.005, aggr = 0.1, update = 1 } }
assert(record.write(dir .. "/r.json.z", snaps, { format = "json_compressed", intervals = iv.intervals }))
assert(record.write(dir .. "/r.record", snaps, { format = "record", intervals = iv.intervals }))

local function vm(args) return (sh(vmlab_bin .. " report " .. args)) end

if damo3 then
  local function d3(args) return (sh("python3 " .. damo3 .. " report " .. args)) end
  local f = dir .. "/r.json.z"
  for _, args in ipairs { "access --raw_form", "wss", "wss -r 0 101 5 --raw_number", "wss --exclude_samples 0 --sortby time",
    "wss --work_time 300000 --raw_number", "nr_regions", "nr_regions -r 0 101 10 --sortby time", "record_info",
    "heatmap --guide", "heatmap --output raw --resol 40 30", "heatmap --resol 12 50", "access",
    "access --raw_number", "access --style simple-boxes", "access --style temperature-sz-hist",
    "access --style recency-sz-hist", "access --style recency-percentiles", "access --style temperature-percentiles",
    "access --style cold", "access --style hot" } do
    local want, got = d3(args .. " -i " .. f), vm(args .. " -i " .. f)
    -- damo pipes more than 50 lines through less, which drops the last newline
    if args:match("^access") and want:sub(-1) ~= "\n" then want = want .. "\n" end
    t.is(got, want, "damo 3.x and vmlab agree: report " .. args)
  end
else
  t.skip("no damo 3.x (VMLAB_DAMO)", 20)
end

if damo2 then
  local function d2(args) return (sh("python3 " .. damo2 .. " report " .. args .. " 2>/dev/null")) end
  local f = dir .. "/r.record"
  -- damo 2 prints the target id before the header and no data source line
  local function numbers(text)
    local out = {}
    for line in text:gmatch("[^\n]+") do
      if not line:match("^# <") and not line:match("^# target_id") and not line:match("^data source") and
        not line:match("^WARNING") and not line:match("^%s") then out[#out + 1] = line end
    end
    return table.concat(out, "\n")
  end
  for _, args in ipairs { "wss -r 0 101 5 --raw_number", "nr_regions", "raw" } do
    local vargs = args:gsub("^wss", "wss --per_target")
    local want, got = numbers(d2(args .. " -i " .. f)), numbers(vm(vargs .. " -i " .. f))
    t.ok(#want > 0, "damo 2.x reads vmlab's binary record: report " .. args)
    t.is(got, want, "damo 2.x and vmlab agree: report " .. args)
  end
else
  t.skip("no damo 2.x (VMLAB_DAMO2)", 6)
end
os.execute("rm -rf " .. dir)
t.done_testing()
