-- Charts of a trace: the four kinds in PNG, SVG and PDF; bad requests
-- say what is wrong.
local tap = require "vmlab.tap"
local trace = require "vmlab.trace"
local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)

-- two mappings far apart, a loop with writes in one
local w <close> = trace.writer(dir .. "/a.trace", { page_size = 4096, time_unit_ns = 1000,
  targets = { { name = "heap", start = 0x10000000, length = 1 << 22 }, { name = "stack", start = 0x7f0000000000, length = 1 << 20 } } })
for t = 1, 20000 do
  w:write { time = t, page = 0x10000 + t % 500, target = 1, kind = t % 7 == 0 and "write" or "read" }
  if t % 5 == 0 then w:write { time = t, page = 0x7f0000000 + t % 13, target = 2, kind = "write" } end
end
w:close()

local function head(path, n)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read(n) or ""
  f:close()
  return s
end

for _, kind in ipairs { "address", "wss", "reuse", "mrc" } do
  for _, ext in ipairs { "png", "svg", "pdf" } do
    local out = dir .. "/" .. kind .. "." .. ext
    local ok, err = trace.plot(dir .. "/a.trace", { kind = kind, output = out, policies = kind == "mrc" and { "lru", "fifo", "opt" } or nil })
    local magic = ({ png = "\x89PNG", svg = "<?xml", pdf = "%PDF" })[ext]
    tap.ok(ok and head(out, #magic) == magic, kind .. " as " .. ext .. (err and (": " .. err) or ""))
  end
end
tap.error_like(function() trace.plot(dir .. "/a.trace", { kind = "pie", output = dir .. "/x.png" }) end, "invalid option 'pie'", "an unknown kind")
tap.error_like(function() trace.plot(dir .. "/a.trace", { output = dir .. "/x.gif" }) end, "suffix", "an unknown image format")
tap.error_like(function() trace.plot(dir .. "/a.trace", { kind = "mrc", output = dir .. "/x.png", policies = { "lru", "nope" } }) end, "unknown policy 'nope'", "an unknown policy")
tap.error_like(function() trace.plot(dir .. "/a.trace", {}) end, "output", "output is required")
local vm = os.getenv("VMLAB") or "build/vmlab"
local _, _, code = os.execute(vm .. " trace plot -i " .. dir .. "/a.trace -o " .. dir .. "/cli.svg --kind wss")
tap.is(code, 0, "vmlab trace plot")
tap.is(head(dir .. "/cli.svg", 5), "<?xml", "wrote the SVG")
os.execute("rm -rf " .. dir)
tap.done_testing()
