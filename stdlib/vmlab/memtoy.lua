-- vmlab.memtoy: memtoy's command language on vmlab's segments, NUMA calls
-- and children.  Every command of memtoy's README, with its syntax: unique
-- prefixes ("shm" for shmem), k/m/g/p sizes, 0x offsets, policy flags
-- ("bind+move+all"), '*' node lists, "/child cmd" routing, '#' comments.
-- Semantics and output follow memtoy 0.x's source (segment.c, commands.c):
-- anon/file/shmem define a segment and `map` maps it; `show +` and the
-- task's own mappings ([heap], [stack], text and data of the executable and
-- libraries) as segments; "touched N pages in S secs", "mlock of ...",
-- "migration of ..." and where's page table as memtoy prints them.
--
--   memtoy.run(line[, {exact=}]) -> true, or nil and the error message
--   memtoy.is_command(line[, {exact=}]) -> true if the first word names a
--                                command (exact: no prefixes, as the REPL)
--   memtoy.commands()          -> the command names, in help order
--   memtoy.complete(line, word) -> candidates for the word being typed
--   memtoy.main(file|"-", "-v") -> exit status (4 at the first error in
--                                batch mode, as memtoy)

local vmlab = require "vmlab"
local seg = require "vmlab.seg"
local numa = require "vmlab.numa"
local proc = require "vmlab.proc"

local M = {}
local verbose = false
local out = io.stdout

local function say(fmt, ...)
  out:write(string.format(fmt, ...), "\n")
  out:flush()
end

-- memtoy's program name: "memtoy", or "memtoy(child)" in a child.
local function prog()
  local name = proc.name and proc.name()
  return name and ("memtoy(" .. name .. ")") or "memtoy"
end

-- memtoy's notes ("segment x already mapped") go to stderr, as memtoy's.
local function note(fmt, ...)
  io.stdout:flush()
  io.stderr:write(prog(), ":  ", string.format(fmt, ...), "\n")
  io.stderr:flush()
end

-- A message without the stdlib's "file.lua:123: " positions.
local function clean(msg)
  return (tostring(msg):gsub("[%w_%./%-]*%.lua:%d+: ", ""):gsub("^%[string [^%]]*%]:%d+: ", ""))
end

-- A failed command: raised as a table so that run() can tell it from a bug.
local Fail = {}
local function fail(fmt, ...)
  error(setmetatable({ msg = string.format(fmt, ...) }, Fail), 0)
end

-- A value that may be nil, message (a system failure): fail with it.
local function check(r, msg, ...)
  if r == nil then fail("%s", msg) end
  return r, msg, ...
end

-- ---- arguments -------------------------------------------------------------

local function is_num(w) return w ~= nil and w:match("^%d") ~= nil end

local function size(w, what)
  local ok, v = pcall(vmlab.size, w)
  if not ok then fail("bad %s '%s': %s", what, w, (v:gsub("^.-%((.*)%)$", "%1"))) end
  return v
end

-- ---- the task's own mappings as segments (memtoy 0.6b) ----------------------
-- [heap] -> "heap", [stack] -> "stack", a file's executable mapping ->
-- "<basename>:text", its writable one -> "<basename>:data" (the first of
-- each name, as memtoy).  They are wrapped, not owned: memtoy refuses to
-- write, unmap or remove them, and so do we.  Loaded when first needed
-- (show +, or such a name that no segment has) and refreshed by `show +`.
local task = { list = {}, info = {} }

local function task_load()
  for _, s in ipairs(task.list) do
    if not s.closed then s:remove() end
  end
  task.list, task.info = {}, {}
  local maps = seg.maps()
  if not maps then return end
  for _, m in ipairs(maps) do
    local name, letter, display
    local path, perms = m.path, m.perms
    if path == "[heap]" or path == "[stack]" then
      name, letter = path:sub(2, -2), "a"
    elseif path and path:sub(1, 1) == "/" and perms:sub(1, 3) ~= "---" then
      local base = path:match("[^/]+$")
      if perms:sub(3, 3) == "x" then
        name, letter, display = base .. ":text", "f", path .. ":text"
      elseif perms:sub(2, 2) == "w" then
        name, letter = base .. ":data", "a"
      end
    end
    if name and not seg.get(name) and #name < 64 then
      local s = seg.wrap(name, m.start, m.size, { prot = perms:sub(1, 3) })
      if s then
        task.list[#task.list + 1] = s
        task.info[name] = { letter = letter, display = display or name, offset = m.offset }
      end
    end
  end
end

local function is_task(s) return task.info[s.name] ~= nil and not s.closed end

local function getseg(name)
  if not name then fail("missing <seg-name>") end
  local s = seg.get(name)
  -- only a name the task's maps could give (a typo registers nothing)
  if not s and (name == "heap" or name == "stack" or name:match(":text$") or name:match(":data$")) then
    task_load()
    s = seg.get(name)
  end
  if not s then fail("no such segment:  %s", name) end
  return s
end

-- [<offset> <length>] when the next word starts with a digit; a length of
-- '*' or 0 means to the end.  Returns offset, length (nil = to the end)
-- and the index of the next argument.
local function range(args, i)
  if not is_num(args[i]) then return nil, nil, i end
  local off = size(args[i], "offset")
  local len
  if args[i + 1] == "*" or is_num(args[i + 1]) then
    len = args[i + 1] == "*" and 0 or size(args[i + 1], "length")
    i = i + 2
  else
    i = i + 1
  end
  return off, (len ~= 0 and len or nil), i
end

-- memtoy's range rule: the offset rounds down to a page and must be inside
-- the segment; the length rounds up and is silently cut at the end.
local function clamp(s, off, len)
  local ps = s.pagesize
  off = (off or 0) // ps * ps
  if off >= s.size then fail("offset %d is past end of segment %s", off, s.name) end
  local max = s.size - off
  if len and len > 0 then len = (len + ps - 1) // ps * ps end
  if not len or len == 0 or len > max then len = max end
  return off, len
end

local function range_opts(off, len, extra)
  local o = extra or {}
  o.offset = off
  o.length = len
  return o
end

local function share_arg(w)
  if w == nil then return nil end
  if ("private"):sub(1, #w) == w then return false end
  if ("shared"):sub(1, #w) == w then return true end
  fail("bad <seg-share> '%s' (private or shared)", w)
end

-- ---- the commands ------------------------------------------------------------

local commands = {}
local order = {}
local function def(name, usage, help, fn)
  commands[name] = { usage = usage, help = help, fn = fn }
  order[#order + 1] = name
end

-- quit: the session ends ('/c quit' closes child c's channel: see route).
local function quit() M.quitting = true end
def("quit", "quit", "just what you think; EOF on stdin has the same effect", quit)
def("exit", "exit", "alias for 'quit'", quit)

def("help", "help [<command>]", "show this help, or help for just <command>", function(args)
  if args[1] then
    local name = M.resolve(args[1])
    local c = commands[name]
    say("%s - %s", c.usage, c.help)
    return
  end
  for _, name in ipairs(order) do say("%-64s", commands[name].usage) end
end)

def("pid", "pid", "show process id of this session",
  function() say("%s:  pid = %d", prog(), vmlab.pid()) end)

-- In a child, the parent waiting for the answer gets it once the wait is
-- armed: its prompt comes back and its kick wakes us.
def("pause", "pause", "pause program until signal -- e.g., INT, USR1", function()
  local sig = vmlab.pause(proc.name() and function() proc.reply(true) end or nil)
  if verbose then say("%s:  wakened by signal %s", prog(), tostring(sig)) end
end)

def("snooze", "snooze <seconds>", "sleep for the given interval (e.g. 2, 500ms)", function(args)
  if not args[1] then fail("missing <seconds>") end
  local ok, t = pcall(vmlab.time, args[1])
  if not ok then fail("bad interval '%s'", args[1]) end
  vmlab.snooze(t)
end)

def("numa", "numa", "display numa info as seen by this program: nodes with total and free memory",
  function()
    local allowed = {}
    for _, n in ipairs(numa.mems()) do allowed[n] = true end
    say("  Node  Total Mem[MB]  Free Mem[MB]")
    for _, n in ipairs(numa.nodes()) do
      if allowed[n.id] then
        say("  %3d  %9d      %8d", n.id, n.total // (1024 * 1024), n.free // (1024 * 1024))
      end
    end
  end)

local function nodes_arg(w, what)
  if not w then fail("missing %s", what) end
  local ok, v = pcall(numa.parse_nodes, w)
  if not ok then fail("bad %s '%s'", what, w) end
  return v
end

def("migrate", "migrate <to-node-id[s]> [<from-node-id[s]>]",
  "migrate this process' memory from <from-node-id[s]> (default: the allowed nodes) to <to-node-id[s]>",
  function(args)
    local to = nodes_arg(args[1], "<to-node-id[s]>")
    local from = args[2] and nodes_arg(args[2], "<from-node-id[s]>") or numa.mems()
    local left = check(numa.migrate(to, from))
    say("migrate: %d page(s) could not be moved", left)
  end)

-- memtoy's show_one_segment(): the type letter, address (or not-mapped),
-- length, offset, protection, share and name (a file's path).
local letters = { anon = "a", file = "f", shmem = "s", memfd = "m", wrap = "a" }
local function show_row(s)
  local info = task.info[s.name]
  local letter = info and info.letter or (s.kind == "shmem" and s.huge and "h") or letters[s.kind] or "?"
  local name = info and info.display or (s.kind == "file" and s.path or s.name)
  local share = s.share == "shared" and "shared " or "private"
  local offset = info and info.offset or s.offset
  if s.mapped then
    say("%s 0x%016x 0x%012x 0x%012x  %s %s %s", letter, s.addr, s.size, offset, s.prot, share, name)
  else
    say("%s *** not-mapped *** 0x%012x 0x%012x  %s  %s %s", letter, s.size, offset, s.prot:sub(1, 2),
      share, name)
  end
end

local function show_header()
  say("\n  _____address______ ____length____ ____offset____ prot  share  name")
end

def("show", "show [<name>|+]",
  "show info for segment[s]; default all; '+' also shows the task's maps [/proc/<pid>/maps]",
  function(args)
    local name = args[1]
    if name and name:sub(1, 1) ~= "+" then
      show_row(getseg(name))
      return
    end
    local all = name ~= nil
    if all then task_load() end
    local rows = {}
    for _, s in ipairs(task.list) do
      if all and not s.closed then rows[#rows + 1] = s end
    end
    for _, s in ipairs(seg.list()) do
      if not task.info[s.name] then rows[#rows + 1] = s end
    end
    for k, s in ipairs(rows) do
      if k == 1 then show_header() end
      show_row(s)
    end
  end)

def("anon", "anon <seg-name> <seg-size>[k|m|g|p] [<seg-share>]",
  "define a MAP_ANONYMOUS segment of specified size; <seg-share> := private|shared - default = private",
  function(args)
    if not args[1] or not args[2] then fail("usage: anon <seg-name> <seg-size> [<seg-share>]") end
    check(seg.anon(args[1], size(args[2], "size"), { shared = share_arg(args[3]) or false, map = false }))
  end)

def("file", "file <pathname> [<offset>[k|m|g|p] <length>[k|m|g|p]] [<seg-share>]",
  "define a mapped file segment, named by the file's basename; '*' or 0 length maps to the end",
  function(args)
    if not args[1] then fail("missing <pathname>") end
    local off, len, i = range(args, 2)
    check(seg.file(args[1], { offset = off, length = len, shared = share_arg(args[i]) or false,
      map = false }))
  end)

def("shmem", "shmem <seg-name> <seg-size>[k|m|g|p] [huge]",
  "define a SysV shared memory segment (huge: SHM_HUGETLB); map/unmap attach/detach it",
  function(args)
    if not args[1] or not args[2] then fail("usage: shmem <seg-name> <seg-size> [huge]") end
    if args[3] and args[3] ~= "huge" then fail("bad flag '%s' (only 'huge')", args[3]) end
    check(seg.shmem(args[1], size(args[2], "size"), { huge = args[3] == "huge", map = false }))
  end)

def("memfd", "memfd <seg-name> <seg-size>[k|m|g|p] [huge]",
  "define a memfd segment, shared (huge: MFD_HUGETLB); map maps it", function(args)
    if not args[1] or not args[2] then fail("usage: memfd <seg-name> <seg-size> [huge]") end
    check(seg.memfd(args[1], size(args[2], "size"), { huge = args[3] == "huge", map = false }))
  end)

def("remove", "remove <seg-name> [<seg-name> ...]", "remove the named segment[s]", function(args)
  if not args[1] then fail("missing <seg-name>") end
  for _, name in ipairs(args) do
    local s = getseg(name)
    if is_task(s) then fail("Can't remove segment:  %s", name) end
    s:remove()
  end
end)

def("map", "map <seg-name> [<offset>[k|m|g|p] <length>[k|m|g|p]] [<seg-share>]",
  "mmap()/shmat() a defined, unmapped segment; offset and length (for files) override the file command's",
  function(args)
    local s = getseg(args[1])
    if s.mapped then
      note("segment %s already mapped", s.name)         -- memtoy: a success
      return
    end
    local off, len, i = range(args, 2)
    local share = share_arg(args[i])
    if off and s.kind ~= "file" then fail("<offset> and <length> apply only to mapped files") end
    if share ~= nil and s.kind == "shmem" then share = nil end  -- always shared, as memtoy
    if off or (share ~= nil and share ~= (s.share == "shared")) then
      -- memtoy's overrides: define it again with them, then map.
      local name, kind, was_shared = s.name, s.kind, s.share == "shared"
      if share == nil then share = was_shared end
      if kind == "file" then
        local path = s.path
        s:remove()
        check(seg.file(path, { name = name, offset = off or 0, length = len, shared = share }))
      elseif kind == "anon" then
        local sz, huge = s.size, s.huge
        s:remove()
        check(seg.anon(name, sz, { shared = share, huge = huge }))
      else
        local sz, huge = s.size, s.huge
        s:remove()
        check(seg.memfd(name, sz, { shared = share, huge = huge }))
      end
      return
    end
    check(s:map())
  end)

def("unmap", "unmap <seg-name>", "unmap the segment, but remember name/size/...", function(args)
  local s = getseg(args[1])
  if is_task(s) then fail("Can't unmap segment:  %s", s.name) end
  if not s.mapped then return end                     -- memtoy: nothing to do
  check(s:unmap())
end)

local function mapped(args)
  local s = getseg(args[1])
  if not s.mapped then fail("segment %s not mapped", s.name) end
  return s
end

def("lock", "lock <seg-name> [<offset>[k|m|g|p] <length>[k|m|g|p]]",
  "mlock() a [range of a] mapped segment (limited by 'ulimit -l' for users)", function(args)
    local s = mapped(args)
    local off, len = clamp(s, range(args, 2))
    local t0 = vmlab.now()
    check(s:lock(range_opts(off, len)))
    say("%s:  mlock of %s [%d pages] took %6.3fsecs.", prog(), s.name, len // vmlab.pagesize(),
      vmlab.now() - t0)
  end)

def("unlock", "unlock <seg-name> [<offset>[k|m|g|p] <length>[k|m|g|p]]",
  "munlock() a [range of a] mapped segment", function(args)
    local s = mapped(args)
    local off, len = clamp(s, range(args, 2))
    check(s:unlock(range_opts(off, len)))
  end)

def("slock", "slock <shm-seg-name>", "SHM_LOCK a shmem segment (does not fault pages in)", function(args)
  local s = mapped(args)
  if s.kind ~= "shmem" then fail("%s is not a shmem segment", s.name) end
  check(s:slock())
end)

def("sunlock", "sunlock <shm-seg-name>", "SHM_UNLOCK a SHM_LOCKed shmem segment", function(args)
  local s = mapped(args)
  if s.kind ~= "shmem" then fail("%s is not a shmem segment", s.name) end
  check(s:sunlock())
end)

-- memtoy's policy names and flags -> vmlab's.
local policies = { default = "default", bind = "bind", preferred = "preferred", interleave = "interleave",
  interleaved = "interleave", ["local"] = "local", ["preferred-many"] = "preferred-many",
  ["weighted-interleave"] = "weighted-interleave" }

def("mbind", "mbind <seg-name> [<offset> <length>] <policy>[+move[+all]] [<node/list>]",
  "set the numa policy of a [range of a] segment: default, bind, preferred, interleave[d], local; " ..
  "'+move' moves pages now, '+all' also pages mapped by others (privileged); '*' nodes: all " ..
  "(interleave) or local (preferred)",
  function(args)
    local s = mapped(args)
    local off, len, i = range(args, 2)
    off, len = clamp(s, off, len)
    local spec = args[i]
    if not spec then fail("missing <policy>") end
    local words = {}
    for w in spec:gmatch("[^+]+") do words[#words + 1] = w end
    local pol = words[1]
    local match
    for name, v in pairs(policies) do
      if name:sub(1, #pol) == pol and (not match or name == pol) then
        if match and match ~= v and name ~= pol then fail("ambiguous policy '%s'", pol) end
        match = v
      end
    end
    if pol == "noop" then fail("policy 'noop' was a proposal; no kernel has it") end
    if not match then fail("unknown policy '%s'", pol) end
    local flags = {}
    for k = 2, #words do
      local f = words[k]
      if f == "shared" or f == "lazy" or f == "wait" then
        fail("flag '+%s' was a proposal; no kernel has it", f)
      elseif f ~= "move" and f ~= "all" and f ~= "strict" and f ~= "static" and f ~= "relative" then
        fail("unknown flag '+%s' (move, all, strict, static, relative)", f)
      end
      flags[#flags + 1] = f
    end
    if flags[1] == "all" or (#flags > 0 and spec:find("+all", 1, true) and not spec:find("+move", 1, true)) then
      fail("'+all' is valid only with '+move'")
    end
    local nodes = args[i + 1]
    if match == "default" or match == "local" then
      nodes = nil
    elseif nodes == "*" and match == "preferred" then
      nodes = {}                                 -- an empty mask: local allocation
    elseif nodes == nil then
      fail("missing <node/list>")
    elseif nodes ~= "*" then
      nodes = nodes_arg(nodes, "<node/list>")
      if match == "preferred" then nodes = { nodes[1] } end
    end
    local t0 = vmlab.now()
    check(s:mbind(match .. (#flags > 0 and "+" .. table.concat(flags, "+") or ""), nodes,
      range_opts(off, len)))
    local moving = false
    for _, f in ipairs(flags) do moving = moving or f == "move" or f == "all" end
    if moving then
      say("%s:  migration of %s [%d pages] took %6.3fsecs.", prog(), s.name, len // vmlab.pagesize(),
        vmlab.now() - t0)
    end
  end)

def("touch", "touch <seg-name> [<offset>[k|m|g|p] <length>[k|m|g|p]] [read|write]",
  "read [default] or write a [range of a] segment, one access per page", function(args)
    local s = mapped(args)
    local off, len, i = range(args, 2)
    local op = args[i] or "read"
    if op:match("^[wW]") then op = "write"
    elseif op:match("^[rR]") then op = "read"
    else fail("segment access must be 'r[ead]' or 'w[rite]', not '%s'", op) end
    if op == "write" and is_task(s) then fail("Can't write to segment: %s", s.name) end
    off, len = clamp(s, off, len)
    local ok, pages, secs = pcall(s.touch, s, op, range_opts(off, len))
    if not ok then fail("%s", (clean(pages):gsub("^.-: touch", "touch"))) end
    if pages == nil then fail("%s", clean(secs)) end
    local huge = s.pagesize ~= vmlab.pagesize()
    say("%s:  touched %d %spages in %6.3f secs", prog(), huge and len // s.pagesize or pages,
      huge and "huge " or "", secs)
  end)

-- memtoy's segment_location(): the segment's row, then 8 pages a line,
-- each line led by its page number in hex; a page not present is '-'
-- (vmlab asks move_pages, which does not fault pages in as memtoy's
-- get_mempolicy(MPOL_F_ADDR) did).
local PG_PER_LINE = 8
def("where", "where <seg-name> [<offset>[k|m|g|p] <length>[k|m|g|p]]",
  "show the node of each page of a [range of a] segment; length defaults to 64 pages", function(args)
    local s = mapped(args)
    local off, len = range(args, 2)
    local ps = vmlab.pagesize()
    if not off then len = 64 * s.pagesize end
    off, len = clamp(s, off, len)
    local w = check(s:where(range_opts(off, len)))
    show_row(s)
    local head = { "page offset   " }
    for k = 0, PG_PER_LINE - 1 do head[#head + 1] = string.format(" +%02d", k) end
    say("%s", table.concat(head))
    local pgid = off // ps
    local line = {}
    if pgid % PG_PER_LINE ~= 0 then
      line[1] = string.format("%12x: ", pgid - pgid % PG_PER_LINE) .. string.rep("    ", pgid % PG_PER_LINE)
    end
    for k = 1, #w do
      if pgid % PG_PER_LINE == 0 then
        if #line > 0 then say("%s", table.concat(line)) end
        line = { string.format("%12x: ", pgid) }
      end
      line[#line + 1] = w[k] and string.format(" %3d", w[k]) or "   -"
      pgid = pgid + 1
    end
    say("%s", table.concat(line))
  end)

local function showmask(list) return #list > 0 and table.concat(list, ",") or "(none)" end

def("cpus", "cpus [{0x<mask>|<cpu-list>}]", "query/change program's cpu affinity", function(args)
  if args[1] then check(numa.cpus(nodes_arg(args[1], "cpu list"))) end
  say("cpus allowed: %s", showmask(numa.cpus()))
end)

def("mems", "mems [{0x<mask>|<node-list>}]", "query/change the nodes the program allocates on",
  function(args)
    if args[1] then check(numa.mems(nodes_arg(args[1], "node list"))) end
    say("mems allowed: %s", showmask(numa.mems()))
  end)

def("mpol", "mpol [<policy>[+static|+relative] [<node/list>]]", "query/set the task's memory policy",
  function(args)
    if args[1] then
      local pol = args[1]:match("^[^+]+")
      local target = policies[pol] or pol
      local nodes = args[2] and (args[2] == "*" and "*" or nodes_arg(args[2], "<node/list>")) or nil
      check(numa.set_policy(target .. (args[1]:match("%+.*$") or ""), nodes))
    end
    local p, nodes = numa.policy()
    say("policy: %s %s", p, #nodes > 0 and table.concat(nodes, ",") or "")
  end)

def("child", "child <child-name>",
  "create a child process that reads commands; '/<child-name> <command>' sends it one, '/' lists them",
  function(args)
    if not args[1] then fail("missing <child-name>") end
    if proc.get(args[1]) then fail("child name %s already in use", args[1]) end
    local c = check(proc.child(args[1]))
    say("%s:  child %s - pid %d", prog(), args[1], c.pid)
  end)

local kick_signals = { "INT", "QUIT", "SEGV", "BUS", "USR1", "USR2", "HUP", "ALRM", "TERM", "KILL",
  "CONT", "STOP" }

def("kick", "kick <child> [<signal>]",
  "post <signal> (number or name; default INT) to <child>; 'kick ?' lists names",
  function(args)
    if args[1] == "?" then
      local line = {}
      for _, n in ipairs(kick_signals) do line[#line + 1] = string.format("SIG%-5s", n) end
      say("Signals available to 'kick':\n    %s\n    or any signal by number", table.concat(line))
      return
    end
    if not args[1] then fail("missing <child-name>") end
    local c = proc.get(args[1])
    if not c then fail("I don't have a child named %s", args[1]) end
    local ok, r, msg = pcall(c.kick, c, args[2] or "INT")
    if not ok then fail("%s", (clean(r):gsub("^.-%((.*)%)$", "%1"))) end
    check(r, msg)
  end)

def("verbose", "verbose [on|off]", "echo commands and print timings", function(args)
  verbose = args[1] ~= "off"
end)

-- ---- dispatch -------------------------------------------------------------------

-- A command name from a unique prefix (an exact name always wins).
function M.resolve(word)
  if commands[word] then return word end
  local found
  for _, name in ipairs(order) do
    if name:sub(1, #word) == word then
      if found then fail("ambiguous command '%s' (%s, %s, ...)", word, found, name) end
      found = name
    end
  end
  if not found then fail("unknown command '%s' (try 'help')", word) end
  return found
end

local function words(line)
  local w = {}
  for x in line:gmatch("%S+") do w[#w + 1] = x end
  return w
end

-- The REPL's rule (exact=true): a command's whole name, never a prefix.
function M.is_command(line, opts)
  if opts ~= nil then vmlab.checkopts(opts, "memtoy.is_command", { "exact" }) end
  local first = line:match("^%s*(%S+)")
  if not first then return false end
  if first:sub(1, 1) == "/" then return true end
  if opts and opts.exact then return commands[first] ~= nil end
  local ok, name = pcall(M.resolve, first)
  return ok and name ~= nil
end

function M.commands()
  return table.move(order, 1, #order, 1, {})
end

-- Tab completion at the memtoy prompt: commands for the first word,
-- segment names (and '+' for show) after a segment command, children
-- after kick or '/'.
local takes_segment = { show = true, remove = true, map = true, unmap = true, lock = true,
  unlock = true, slock = true, sunlock = true, mbind = true, touch = true, where = true }
function M.complete(before, word)
  local out, seen = {}, {}
  local function add(x)
    if x:sub(1, #word) == word and not seen[x] then seen[x] = true; out[#out + 1] = x end
  end
  local first = before:match("^%s*(%S+)")
  if word:sub(1, 1) == "/" and not first then
    for _, n in ipairs(proc.list()) do add("/" .. n) end
  elseif not first then
    for _, n in ipairs(order) do add(n) end
  else
    local ok, cmd = pcall(M.resolve, first)
    local nargs = select(2, before:gsub("%S+", ""))
    if ok and takes_segment[cmd] and (cmd == "remove" or nargs == 1) then
      for _, sg in ipairs(seg.list()) do add(sg.name) end
      if cmd == "show" then add("+") end
    elseif ok and cmd == "kick" and nargs == 1 then
      for _, n in ipairs(proc.list()) do add(n) end
    elseif ok and cmd == "help" and nargs == 1 then
      for _, n in ipairs(order) do add(n) end
    elseif ok and cmd == "touch" then
      add("read"); add("write")
    end
  end
  table.sort(out)
  return out
end

-- "/a/b cmd": to child a, which passes "/b cmd" on to its child b.
local function route(line)
  local path, rest = line:match("^%s*/(%S*)%s*(.*)$")
  if path == "" or path == "?" then
    local live = {}
    for _, n in ipairs(proc.list()) do
      local c = proc.get(n)
      if c and c:alive() then live[#live + 1] = c end
    end
    if #live > 0 then say("  _pid_ errs _name_") end
    for _, c in ipairs(live) do say(" %6d %4d %s", c.pid, 0, c.name) end
    return
  end
  local name, deeper = path:match("^([^/]+)(.*)$")
  local c = proc.get(name)
  if not c then fail("I don't have a child named %s", name) end
  local cmd = deeper ~= "" and (deeper .. " " .. rest) or rest
  if cmd:match("^%s*$") then fail("no command for child '%s'", name) end
  -- '/c quit': closing the channel ends the child's loop (it leaves with
  -- _exit: an exit() would rewind the script file it shares with us).
  local first = cmd:match("^%s*(%S+)")
  if first:sub(1, 1) ~= "/" then
    local ok, n = pcall(M.resolve, first)
    if ok and (n == "quit" or n == "exit") then
      if verbose then say("%s(%s)>%s", prog(), name, n) end
      c:close()
      return
    end
  end
  local ok, err = c:eval(string.format("return require('vmlab.memtoy').run(%q)", cmd))
  if ok == nil and err then fail("/%s: %s", name, clean(err)) end
  if ok ~= true then fail("%s", clean(err or "failed")) end
end

function M.run(line, opts)
  if opts ~= nil then vmlab.checkopts(opts, "memtoy.run", { "exact" }) end
  line = line:gsub("#.*$", "")
  if line:match("^%s*$") then return true end
  if verbose then say("%s>%s", prog(), (line:gsub("^%s+", ""):gsub("%s+$", ""))) end
  local ok, err = pcall(function()
    if line:match("^%s*/") then return route(line) end
    local args = words(line)
    local first = table.remove(args, 1)
    local name = (opts and opts.exact and commands[first]) and first or M.resolve(first)
    commands[name].fn(args)
  end)
  if ok then return true end
  if getmetatable(err) == Fail then return nil, err.msg end
  return nil, clean(err)
end

function M.set_verbose(on) verbose = not not on end

-- vmlab --memtoy [script] [-v]: batch mode stops at the first error with
-- exit status 4, as memtoy does; at a terminal, errors are reported and the
-- session goes on.
function M.main(file, flag)
  verbose = flag == "-v" or verbose
  local f, interactive = io.stdin, false
  if file and file ~= "-" and file ~= "" then
    local err
    f, err = io.open(file, "r")
    if not f then
      io.stderr:write("memtoy: cannot open ", tostring(err), "\n")
      return 1
    end
  else
    local ok = os.execute("test -t 0")
    interactive = ok == true
  end
  local lineno = 0
  while not M.quitting do
    if interactive then out:write("memtoy> "); out:flush() end
    local line = f:read("l")
    if not line then break end
    lineno = lineno + 1
    local ok, err = M.run(line)
    if not ok then
      io.stderr:write(string.format("memtoy: %s%s\n", interactive and "" or
        (file and file ~= "-" and file or "stdin") .. ":" .. lineno .. ": ", err))
      io.stderr:flush()
      if not interactive then return 4 end
    end
  end
  if f ~= io.stdin then f:close() end
  return 0
end

return M
