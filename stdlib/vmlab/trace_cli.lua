-- `vmlab trace ...`: the command line of vmlab.trace.
--   vmlab trace [-o FILE] [--no-instr] [--timeout T] [--via auto|vmlab|lackey] -- cmd args
--                                      trace a command under valgrind (vmlab's tool, or lackey)
--   vmlab trace simulate -i FILE --policy P[,P] --frames N[,N] [--format text|tsv]
--   vmlab trace mrc -i FILE [--method lru|opt|shards] [--rate R] [--hot K] [--points N]
--   vmlab trace convert -i FILE -o FILE [--from F] [--to F]
--   vmlab trace print -i FILE          the events as text
--   vmlab trace policies               each policy and its source
--   vmlab trace plot -i FILE -o IMAGE [--kind address|wss|reuse|mrc]
local M = {}

local usage = [[
usage: vmlab trace [-o FILE] [--no-instr] [--timeout T] [--via auto|vmlab|lackey] -- cmd args...
         (under valgrind: vmlab's own tool when built, else lackey; --via chooses)
       vmlab trace simulate -i FILE --policy P[,P...] --frames N[,N...] [--format text|tsv] [--in FORMAT]
       vmlab trace mrc -i FILE [--method lru|opt|shards] [--rate R] [--hot K] [--points N] [--format text|tsv]
       vmlab trace convert -i FILE -o FILE [--from FORMAT] [--to FORMAT]
       vmlab trace print -i FILE [--from FORMAT]
       vmlab trace plot -i FILE -o IMAGE [--kind address|wss|reuse|mrc] [--policy P,...]
       vmlab trace policies
formats: binary (vmlab's, the default), text (`time R|W page`), pages (one per line),
         csv and oracleGeneral (libCacheSim's); by default from the file's suffix]]

local function fail(msg)
  io.stderr:write("vmlab trace: ", msg, "\n")
  return 2
end

-- Options: "--name value" and "-x value" pairs; `flags` lists those without a value.
local function parse(args, first, known)
  local o, i = {}, first
  while i <= #args do
    local a = args[i]
    local name = known[a]
    if not name then return nil, "unknown option '" .. a .. "'" end
    if args[i + 1] == nil then return nil, "option " .. a .. " needs a value" end
    o[name] = args[i + 1]
    i = i + 2
  end
  return o
end

local function split(s, conv)
  local out = {}
  for w in s:gmatch("[^,%s]+") do
    local v = w
    if conv then v = conv(w) end
    if v == nil then return nil, w end
    out[#out + 1] = v
  end
  return out
end

local function int(w)
  local v = math.tointeger(tonumber(w))
  return v and v >= 1 and v or nil
end

local function simulate(args)
  local o, err = parse(args, 2, { ["-i"] = "input", ["--policy"] = "policy", ["-p"] = "policy",
    ["--frames"] = "frames", ["-f"] = "frames", ["--format"] = "format", ["--in"] = "from" })
  if not o then return fail(err) end
  if not o.input then return fail("simulate needs -i FILE") end
  if not o.frames then return fail("simulate needs --frames N[,N...]") end
  local frames, bad = split(o.frames, int)
  if not frames then return fail("--frames: '" .. bad .. "' is not an integer >= 1") end
  local policies = split(o.policy or "lru")
  local format = o.format or "text"
  if format ~= "text" and format ~= "tsv" then return fail("--format is text or tsv") end
  local res = require("vmlab.trace").simulate(o.input, { policy = policies, frames = frames, format = o.from })
  if format == "tsv" then
    print("policy\tframes\treferences\tfaults\tmiss_ratio")
    for _, r in ipairs(res) do
      print(string.format("%s\t%d\t%d\t%d\t%.6f", r.policy, r.frames, r.references, r.faults, r.miss_ratio))
    end
  else
    print(string.format("%-14s %10s %12s %12s %10s", "policy", "frames", "references", "faults", "miss ratio"))
    for _, r in ipairs(res) do
      print(string.format("%-14s %10d %12d %12d %10.4f", r.policy, r.frames, r.references, r.faults, r.miss_ratio))
    end
  end
  return 0
end

local function mrc(args)
  local o, err = parse(args, 2, { ["-i"] = "input", ["--method"] = "method", ["--rate"] = "rate",
    ["--hot"] = "hot", ["--points"] = "points", ["--format"] = "format", ["--in"] = "from",
    ["--sizes"] = "sizes" })
  if not o then return fail(err) end
  if not o.input then return fail("mrc needs -i FILE") end
  local sizes
  if o.sizes then
    local bad
    sizes, bad = split(o.sizes, int)
    if not sizes then return fail("--sizes: '" .. bad .. "' is not an integer >= 1") end
  end
  local c = require("vmlab.trace").mrc(o.input, { method = o.method, rate = tonumber(o.rate),
    hot = o.hot and int(o.hot), points = o.points and int(o.points), sizes = sizes, format = o.from })
  if o.format == "tsv" then print("frames\tmiss_ratio") end
  for i, s in ipairs(c.sizes) do
    print(string.format(o.format == "tsv" and "%d\t%.6f" or "%10d %10.6f", s, c.miss_ratio[i]))
  end
  return 0
end

local function convert(args)
  local o, err = parse(args, 2, { ["-i"] = "input", ["-o"] = "output", ["--from"] = "from", ["--to"] = "to" })
  if not o then return fail(err) end
  if not o.input or not o.output then return fail("convert needs -i FILE -o FILE") end
  local n, e = require("vmlab.trace").convert(o.input, o.output, { from = o.from, to = o.to })
  if not n then return fail(e) end
  io.stderr:write(string.format("vmlab trace: %d events to %s\n", n, o.output))
  return 0
end

local function printev(args)
  local o, err = parse(args, 2, { ["-i"] = "input", ["--from"] = "from" })
  if not o then return fail(err) end
  if not o.input then return fail("print needs -i FILE") end
  local trace = require "vmlab.trace"
  local h = trace.header(o.input, o.from)
  print(string.format("# page_size %d time_unit_ns %d format %s", h.page_size, h.time_unit_ns, h.format))
  for i, t in ipairs(h.targets) do
    print(string.format("# target %d %s 0x%x +%d inode %d offset %d", i, t.name, t.start, t.length, t.inode, t.offset))
  end
  for ev in trace.events(o.input, o.from) do
    print(string.format("%d %s 0x%x tid %d target %d", ev.time, ev.kind == "write" and "W" or "R", ev.page, ev.tid, ev.target))
  end
  return 0
end

local function plot(args)
  local o, err = parse(args, 2, { ["-i"] = "input", ["-o"] = "output", ["--kind"] = "kind",
    ["--policy"] = "policy", ["--tau"] = "tau", ["--width"] = "width", ["--height"] = "height",
    ["--title"] = "title", ["--from"] = "from", ["--gap"] = "gap" })
  if not o then return fail(err) end
  if not o.input or not o.output then return fail("plot needs -i FILE -o IMAGE") end
  local ok, e = require("vmlab.trace").plot(o.input, { output = o.output, kind = o.kind,
    policies = o.policy and split(o.policy), tau = tonumber(o.tau), width = o.width and int(o.width),
    height = o.height and int(o.height), title = o.title, format = o.from, gap = o.gap and int(o.gap) })
  if not ok then return fail(e) end
  return 0
end

local function policies()
  for _, p in ipairs(require("vmlab.trace").policies()) do
    print(string.format("%-14s %s", p.name, p.source))
  end
  return 0
end

-- vmlab trace [-o FILE] [--no-instr] [--timeout T] [--via auto|vmlab|lackey] -- cmd args
local function command(args)
  local o, i = { output = "vmlab.trace" }, 1
  while i <= #args and args[i] ~= "--" do
    local a = args[i]
    if a == "-o" or a == "--output" then
      if not args[i + 1] then return fail(a .. " needs a file") end
      o.output = args[i + 1]; i = i + 2
    elseif a == "--no-instr" then o.no_instr = true; i = i + 1
    elseif a == "--via" then
      local v = args[i + 1]
      if v ~= "auto" and v ~= "vmlab" and v ~= "lackey" then
        return fail("--via needs auto, vmlab or lackey" .. (v and (", not '" .. v .. "'") or ""))
      end
      o.via = v; i = i + 2
    elseif a == "--timeout" then
      if not args[i + 1] then return fail(a .. " needs a time") end
      o.timeout = args[i + 1]; i = i + 2
    else return fail("unknown option or subcommand '" .. a .. "' (see vmlab trace -h)") end
  end
  if args[i] ~= "--" or not args[i + 1] then return fail("give the command after --: vmlab trace -o FILE -- cmd args") end
  local cmd = table.move(args, i + 1, #args, 1, {})
  local r, err = require("vmlab.trace").lackey { command = cmd, output = o.output, instructions = not o.no_instr,
    timeout = o.timeout and (tonumber(o.timeout) or o.timeout), via = o.via }
  if not r then return fail(err) end
  if r.note then io.stderr:write("vmlab trace: ", r.note, "\n") end
  io.stderr:write(string.format("vmlab trace: %d references, %d page events to %s (valgrind %s)%s\n", r.references,
    r.events, o.output, r.via == "vmlab" and "--tool=vmlab" or "lackey", r.timed_out and " (stopped at the timeout)" or ""))
  if r.signal then return 128 + r.signal end
  return r.exit or 0
end

local dispatch

-- Bad input that the module rejects (raises) is a usage error here:
-- the message without a traceback, exit status 2.
function M.main(...)
  local ok, res = pcall(dispatch, ...)
  if ok then return res end
  return fail((tostring(res):gsub("^[^:\n]*:%d+: ", "")))
end

function dispatch(...)
  local args = { ... }
  local cmd = args[1]
  if cmd == nil or cmd == "-h" or cmd == "--help" then
    io.stderr:write(usage, "\n")
    return cmd == nil and 2 or 0
  end
  if cmd == "simulate" then return simulate(args) end
  if cmd == "mrc" then return mrc(args) end
  if cmd == "convert" then return convert(args) end
  if cmd == "print" then return printev(args) end
  if cmd == "policies" then return policies() end
  if cmd == "plot" then return plot(args) end
  return command(args)
end

return M
