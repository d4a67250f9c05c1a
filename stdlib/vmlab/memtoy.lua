-- vmlab.memtoy: memtoy's command language on vmlab's segments, NUMA calls
-- and children.  Every command of memtoy's README, with its syntax: unique
-- prefixes ("shm" for shmem), k/m/g/p sizes, 0x offsets, policy flags
-- ("bind+move+all"), '*' node lists, "/child cmd" routing, '#' comments.
--
--   memtoy.run(line)          -> true, or nil and the error message
--   memtoy.is_command(line)   -> true if the first word names a command
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

local function getseg(name)
  if not name then fail("missing <seg-name>") end
  local s = seg.get(name)
  if not s then fail("no segment named '%s'", name) end
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

def("quit", "quit", "just what you think; EOF on stdin has the same effect",
  function() M.quitting = true end)
def("exit", "exit", "alias for 'quit'", function() M.quitting = true end)

def("help", "help [<command>]", "show this help, or help for just <command>", function(args)
  if args[1] then
    local name = M.resolve(args[1])
    local c = commands[name]
    say("%s - %s", c.usage, c.help)
    return
  end
  for _, name in ipairs(order) do say("%-64s", commands[name].usage) end
end)

def("pid", "pid", "show process id of this session", function() say("%d", vmlab.pid()) end)

def("pause", "pause", "pause program until signal -- e.g., INT, USR1", function()
  say("pid %d pausing until a signal arrives", vmlab.pid())
  vmlab.pause()
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
    say("%-6s %12s %12s  %s", "node", "total[MB]", "free[MB]", "cpus")
    for _, n in ipairs(numa.nodes()) do
      if allowed[n.id] then
        say("%-6d %12d %12d  %s", n.id, n.total // (1024 * 1024), n.free // (1024 * 1024), n.cpus)
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

def("show", "show [<name>|+]",
  "show info for segment[s]; default all; '+' also shows the task's maps [/proc/<pid>/maps]",
  function(args)
    local name = args[1]
    if name and name:sub(1, 1) == "+" then
      seg.show()
      say("  _____address______ ____length____ ____offset____ prot  share  name (from /proc/%d/maps)", vmlab.pid())
      for _, m in ipairs(seg.maps()) do
        say("m 0x%016x 0x%012x 0x%012x  %s  %-8s%s", m.start, m.size, m.offset, m.perms:sub(1, 3),
          m.perms:sub(4, 4) == "s" and "shared" or "private", m.path or "[anon]")
      end
    elseif name then
      getseg(name)
      seg.show(name)
    else
      seg.show()
    end
  end)

def("anon", "anon <seg-name> <seg-size>[k|m|g|p] [<seg-share>]",
  "define a MAP_ANONYMOUS segment of specified size; <seg-share> := private|shared - default = private",
  function(args)
    if not args[1] or not args[2] then fail("usage: anon <seg-name> <seg-size> [<seg-share>]") end
    check(seg.anon(args[1], size(args[2], "size"), { shared = share_arg(args[3]) or false }))
  end)

def("file", "file <pathname> [<offset>[k|m|g|p] <length>[k|m|g|p]] [<seg-share>]",
  "define a mapped file segment, named by the file's basename; '*' or 0 length maps to the end",
  function(args)
    if not args[1] then fail("missing <pathname>") end
    local off, len, i = range(args, 2)
    check(seg.file(args[1], { offset = off, length = len, shared = share_arg(args[i]) or false }))
  end)

def("shmem", "shmem <seg-name> <seg-size>[k|m|g|p] [huge]",
  "define a SysV shared memory segment (huge: SHM_HUGETLB); map/unmap attach/detach it",
  function(args)
    if not args[1] or not args[2] then fail("usage: shmem <seg-name> <seg-size> [huge]") end
    if args[3] and args[3] ~= "huge" then fail("bad flag '%s' (only 'huge')", args[3]) end
    check(seg.shmem(args[1], size(args[2], "size"), { huge = args[3] == "huge" }))
  end)

def("memfd", "memfd <seg-name> <seg-size>[k|m|g|p] [huge]",
  "define a memfd segment, shared (huge: MFD_HUGETLB)", function(args)
    if not args[1] or not args[2] then fail("usage: memfd <seg-name> <seg-size> [huge]") end
    check(seg.memfd(args[1], size(args[2], "size"), { huge = args[3] == "huge" }))
  end)

def("remove", "remove <seg-name> [<seg-name> ...]", "remove the named segment[s]", function(args)
  if not args[1] then fail("missing <seg-name>") end
  for _, name in ipairs(args) do getseg(name):remove() end
end)

def("map", "map <seg-name> [<offset>[k|m|g|p] <length>[k|m|g|p]] [<seg-share>]",
  "mmap()/shmat() a defined, unmapped segment; offset and length (for files) override the file command's",
  function(args)
    local s = getseg(args[1])
    local off, len, i = range(args, 2)
    local share = share_arg(args[i])
    if (off or share ~= nil) and s.kind == "file" then
      local path, name, was_shared = s.path, s.name, s.share == "shared"
      if s.mapped then fail("segment '%s' is mapped; unmap it first", name) end
      s:remove()
      if share == nil then share = was_shared end
      check(seg.file(path, { name = name, offset = off or 0, length = len, shared = share }))
      return
    elseif off then
      fail("<offset> and <length> apply only to mapped files")
    end
    if s.mapped then fail("segment '%s' is already mapped", s.name) end
    check(s:map())
  end)

def("unmap", "unmap <seg-name>", "unmap the segment, but remember name/size/...", function(args)
  local s = getseg(args[1])
  if not s.mapped then fail("segment '%s' is not mapped", s.name) end
  check(s:unmap())
end)

local function mapped(args)
  local s = getseg(args[1])
  if not s.mapped then fail("segment '%s' is not mapped", s.name) end
  return s
end

def("lock", "lock <seg-name> [<offset>[k|m|g|p] <length>[k|m|g|p]]",
  "mlock() a [range of a] mapped segment (limited by 'ulimit -l' for users)", function(args)
    local s = mapped(args)
    local off, len = range(args, 2)
    check(s:lock(range_opts(off, len)))
  end)

def("unlock", "unlock <seg-name> [<offset>[k|m|g|p] <length>[k|m|g|p]]",
  "munlock() a [range of a] mapped segment", function(args)
    local s = mapped(args)
    local off, len = range(args, 2)
    check(s:unlock(range_opts(off, len)))
  end)

def("slock", "slock <shm-seg-name>", "SHM_LOCK a shmem segment (does not fault pages in)", function(args)
  local s = getseg(args[1])
  if s.kind ~= "shmem" then fail("segment '%s' is not a shmem segment", s.name) end
  check(s:slock())
end)

def("sunlock", "sunlock <shm-seg-name>", "SHM_UNLOCK a SHM_LOCKed shmem segment", function(args)
  local s = getseg(args[1])
  if s.kind ~= "shmem" then fail("segment '%s' is not a shmem segment", s.name) end
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
    check(s:mbind(match .. (#flags > 0 and "+" .. table.concat(flags, "+") or ""), nodes,
      range_opts(off, len)))
  end)

def("touch", "touch <seg-name> [<offset>[k|m|g|p] <length>[k|m|g|p]] [read|write]",
  "read [default] or write a [range of a] segment, one access per page", function(args)
    local s = mapped(args)
    local off, len, i = range(args, 2)
    local op = args[i] or "read"
    if ("read"):sub(1, #op) == op then op = "read"
    elseif ("write"):sub(1, #op) == op then op = "write"
    else fail("bad access '%s' (read or write)", op) end
    local ok, pages, secs = pcall(s.touch, s, op, range_opts(off, len))
    if not ok then fail("%s", (tostring(pages):gsub("^.-: touch", "touch"))) end
    if verbose then say("touched %d pages in %.6f secs", pages, secs) end
  end)

def("where", "where <seg-name> [<offset>[k|m|g|p] <length>[k|m|g|p]]",
  "show the node of each page of a [range of a] segment; length defaults to 64 pages", function(args)
    local s = mapped(args)
    local off, len = range(args, 2)
    off = off or 0
    len = len or math.min(64 * s.pagesize, s.size - off)
    local w = check(s:where(range_opts(off, len)))
    say("Segment %s: %d page(s) of %s from offset 0x%x; '-' = not present", s.name, #w,
      vmlab.fmtsize(vmlab.pagesize()), off)
    for row = 0, (#w - 1) // 16 do
      local cells = {}
      for k = row * 16 + 1, math.min(#w, row * 16 + 16) do
        cells[#cells + 1] = w[k] and string.format("%2d", w[k]) or " -"
      end
      say("  0x%012x: %s", off + row * 16 * vmlab.pagesize(), table.concat(cells, " "))
    end
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
    check(proc.child(args[1]))
    if verbose then say("child %s: pid %d", args[1], proc.get(args[1]).pid) end
  end)

def("kick", "kick <child> [<signal>]", "post <signal> (number or name) to <child>; 'kick ?' lists names",
  function(args)
    if args[1] == "?" then
      local names = {}
      for n = 1, 31 do
        local ok = pcall(proc.signal, n)
        if ok then names[#names + 1] = n end
      end
      say("signals: HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM CHLD CONT STOP " ..
        "TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS, or a number")
      return
    end
    local c = proc.get(args[1] or "")
    if not c then fail("no child named '%s'", tostring(args[1])) end
    local ok, r, msg = pcall(c.kick, c, args[2] or "TERM")
    if not ok then fail("%s", (tostring(r):gsub("^.-%((.*)%)$", "%1"))) end
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

function M.is_command(line)
  local first = line:match("^%s*(%S+)")
  if not first then return false end
  if first:sub(1, 1) == "/" then return true end
  local ok, name = pcall(M.resolve, first)
  return ok and name ~= nil
end

-- "/a/b cmd": to child a, which passes "/b cmd" on to its child b.
local function route(line)
  local path, rest = line:match("^%s*/(%S*)%s*(.*)$")
  if path == "" or path == "?" then
    local names = proc.list()
    say("children: %s", #names > 0 and table.concat(names, " ") or "(none)")
    return
  end
  local name, deeper = path:match("^([^/]+)(.*)$")
  local c = proc.get(name)
  if not c then fail("no child named '%s'", name) end
  local cmd = deeper ~= "" and (deeper .. " " .. rest) or rest
  if cmd:match("^%s*$") then fail("no command for child '%s'", name) end
  local ok, err = c:eval(string.format("return require('vmlab.memtoy').run(%q)", cmd))
  if ok == nil and err then fail("/%s: %s", name, err) end
  if ok ~= true then fail("%s", tostring(err or "failed")) end
end

function M.run(line)
  line = line:gsub("#.*$", "")
  if line:match("^%s*$") then return true end
  if verbose then say("memtoy> %s", line) end
  local ok, err = pcall(function()
    if line:match("^%s*/") then return route(line) end
    local args = words(line)
    local name = M.resolve(table.remove(args, 1))
    commands[name].fn(args)
  end)
  if ok then return true end
  if getmetatable(err) == Fail then return nil, err.msg end
  return nil, tostring(err)
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
