-- vmlab.help: the Lua API, one line per function or method, for the REPL's
-- `help` and for docs/API.md (help.markdown() writes it; a test checks the
-- file matches and that every function the modules export has a line).
--
--   help()                 the modules, and how to ask
--   help(seg), help "seg"  a module's functions, signature and one line each
--   help(s)                an object's methods (a segment, a monitor, ...)
--   help "seg.anon", help(seg.anon), help "segment:touch"   one entry
--   help "touch"           a memtoy command's help

local M = {}

-- Each group: the module (or class) and its lines { name, signature, what }.
-- A class names its metatable in the registry (class) and how one gets it.
M.groups = {
  { name = "vmlab", module = "vmlab", what = "sizes, times, the clock and the process basics",
    { "size", "vmlab.size(x) -> bytes", "a size: bytes, or \"<n>[k|m|g|t|p]\" (p = pages); bad sizes raise" },
    { "time", "vmlab.time(x) -> seconds", "a time: seconds, or \"<n>[us|ms|s|m]\"" },
    { "fmtsize", "vmlab.fmtsize(n) -> text", "a size for people: \"64 MiB\"" },
    { "pagesize", "vmlab.pagesize() -> bytes", "the base page size" },
    { "pid", "vmlab.pid() -> pid", "this process's id" },
    { "now", "vmlab.now() -> seconds", "a monotonic clock" },
    { "snooze", "vmlab.snooze(t)", "sleep for t (over 1 s, a progress line on a terminal); Ctrl-C ends it with an error" },
    { "pause", "vmlab.pause([armed]) -> signal", "wait for a signal (INT, USR1, ...) and return its name, as memtoy's pause" },
    { "checkopts", "vmlab.checkopts(opts, fname, keys)", "raise on an unknown option, naming the closest valid one" },
    { "version", "vmlab.version", "the version string" },
    { "verbose", "vmlab.verbose", "true under -v" },
    { "sanitized", "vmlab.sanitized", "true in an ASan/UBSan build (mlock is a no-op there)" },
  },
  { name = "seg", module = "vmlab.seg", what = "segments: named mappings, memtoy's",
    { "anon", "seg.anon(name, size[, {shared, huge, map, addr}]) -> s", "an anonymous segment; map=false defines it unmapped" },
    { "file", "seg.file(path[, {name, offset, length, shared, create, map, readonly}]) -> s", "a mapped file, named by its basename" },
    { "shmem", "seg.shmem(name, size[, {huge, map}]) -> s", "a SysV shared memory segment" },
    { "memfd", "seg.memfd(name, size[, {huge, shared, map}]) -> s", "a memfd segment" },
    { "wrap", "seg.wrap(name, addr, size[, {prot}]) -> s", "a mapping vmlab does not own, as a segment" },
    { "get", "seg.get(name) -> s|nil", "the segment of that name" },
    { "list", "seg.list() -> {s, ...}", "every segment, in definition order" },
    { "show", "seg.show([name][, quiet]) -> text", "print memtoy's table of segments" },
    { "table", "seg.table([name]) -> text", "memtoy's table as text" },
    { "maps", "seg.maps() -> {mapping, ...}", "/proc/self/maps as tables (with resident, where, pages)" },
  },
  { name = "segment", class = "vmlab.seg", what = "a segment: fields name kind size addr mapped share pagesize prot offset path",
    { "map", "s:map() -> true", "map a defined segment" },
    { "unmap", "s:unmap() -> true", "unmap it, keeping its definition" },
    { "remove", "s:remove()", "unmap and forget it (also close)" },
    { "close", "s:close()", "the same as remove" },
    { "touch", "s:touch([op][, {offset, length, order, stride, seed, all}]) -> pages, secs", "read, write or rmw each page" },
    { "fill", "s:fill([{offset, length, seed}]) -> true", "write a pattern verify can check" },
    { "verify", "s:verify([{offset, length, seed}]) -> ok, first_bad, nbad", "check fill's pattern" },
    { "lock", "s:lock([{offset, length, onfault}]) -> true", "mlock a range" },
    { "unlock", "s:unlock([{offset, length}]) -> true", "munlock a range" },
    { "slock", "s:slock() -> true", "SHM_LOCK a shmem segment" },
    { "sunlock", "s:sunlock() -> true", "SHM_UNLOCK it" },
    { "protect", "s:protect(prot[, {offset, length}]) -> true", "mprotect: \"r\", \"rw\", \"none\", ..." },
    { "advise", "s:advise(advice[, {offset, length}]) -> true", "madvise by name: \"pageout\", \"willneed\", ..." },
    { "resident", "s:resident([{offset, length}]) -> pages, total", "mincore's count" },
    { "pages", "s:pages([{offset, length}]) -> {info, ...}", "pagemap: pfn, present, swapped, thp, ..." },
    { "where", "s:where([{offset, length}]) -> {node|false, ...}", "the node of each page (nothing faulted in)" },
    { "numa_counts", "s:numa_counts([{offset, length}]) -> {[node] = pages}", "pages per node" },
    { "mbind", "s:mbind(policy[, nodes][, {offset, length}]) -> true", "set a policy (\"bind+move\", ...) on a range" },
    { "policy", "s:policy([{offset}]) -> policy, nodes", "the policy at an offset" },
    { "move", "s:move(node[, {offset, length, flags}]) -> left, status", "move_pages to a node" },
  },
  { name = "numa", module = "vmlab.numa", what = "nodes, policies, migration, affinity",
    { "available", "numa.available() -> bool", "whether the kernel has NUMA" },
    { "nodes", "numa.nodes() -> {{id, total, free, cpus}, ...}", "the nodes" },
    { "online", "numa.online() -> {id, ...}", "the online node ids" },
    { "policy", "numa.policy() -> policy, nodes", "the task's memory policy" },
    { "set_policy", "numa.set_policy(policy, nodes[, flags]) -> true", "set the task's policy" },
    { "migrate", "numa.migrate(to, from) -> left", "migrate_pages of this process" },
    { "cpus", "numa.cpus([list]) -> {cpu, ...}", "query or set the cpu affinity" },
    { "mems", "numa.mems([list]) -> {node, ...}", "query or set the allowed nodes" },
    { "parse_nodes", "numa.parse_nodes(s) -> {node, ...}", "\"0-2,5\", \"*\", \"0x3\"" },
  },
  { name = "proc", module = "vmlab.proc", what = "children with a command loop, signals",
    { "child", "proc.child(name) -> c", "fork a runtime that runs chunks sent to it" },
    { "fork", "proc.fork(fn, ...) -> c", "fork and run fn; its result is the exit status" },
    { "get", "proc.get(name) -> c|nil", "a child by name" },
    { "list", "proc.list() -> {name, ...}", "the children's names" },
    { "kick", "proc.kick(pid, sig) -> true", "send a signal by name or number" },
    { "name", "proc.name() -> name|nil", "this child's name (nil in the first process)" },
    { "reply", "proc.reply(...)", "in a child, answer the current request now (a command that then waits)" },
    { "signal", "proc.signal(name) -> number", "a signal's number" },
  },
  { name = "child", class = "vmlab.proc.child", what = "a child process: field pid, name",
    { "eval", "c:eval(code[, timeout]) -> results|nil, msg", "run a chunk in the child" },
    { "kick", "c:kick(sig) -> true", "send it a signal" },
    { "wait", "c:wait([timeout]) -> how, code|signal", "wait for it to end" },
    { "alive", "c:alive() -> bool", "whether it still runs" },
    { "close", "c:close()", "end it and forget it" },
  },
  { name = "damon", module = "vmlab.damon", what = "the access sampler, DAMON's algorithm",
    { "monitor", "damon.monitor{targets, backend, sample, aggr, update, ...} -> m", "a monitor (prot, replay, kernel or uffd backend: `targets = {{command = {...}}}` (`include_child_tasks = true` follows its children as more targets), a vmlab.proc child, `{{pid = N}}` of one, or segments; `mode`)" },
    { "kernel_available", "damon.kernel_available() -> bool, why", "whether the kernel's DAMON can be used" },
    { "kernel_status", "damon.kernel_status([{root}]) -> status | nil, err, errno", "every kdamond, read-only from sysfs (damo status)" },
  },
  { name = "monitor", class = "vmlab.damon.monitor", what = "a DAMON monitor",
    { "start", "m:start()", "start sampling" },
    { "stop", "m:stop()", "stop sampling" },
    { "step", "m:step([n])", "run n sampling steps (replay); a long run shows progress on a terminal" },
    { "snapshot", "m:snapshot() -> snap", "the last aggregation's regions" },
    { "snapshots", "m:snapshots([{count, timeout}]) -> iterator", "for snap in m:snapshots{count=n}: the next n aggregations (progress on a terminal)" },
    { "on_aggregate", "m:on_aggregate(fn)", "call fn(snapshot) at each aggregation" },
    { "scheme", "m:scheme(spec) -> scheme", "add a DAMOS scheme" },
    { "stats", "m:stats() -> table", "counters" },
    { "close", "m:close()", "stop and free it" },
  },
  { name = "damon.core", module = "vmlab.damon.core", what = "the region algorithms on plain tables",
    { "three_regions", "core.three_regions(vmas) -> regions|nil, err", "DAMON's initial three regions" },
    { "split_evenly", "core.split_evenly(start, end_, n[, min_sz]) -> list", "n equal regions" },
    { "split_at", "core.split_at(r, sz) -> left, right", "split one region" },
    { "merge_two", "core.merge_two(l, r) -> region", "merge two adjacent regions" },
    { "merge_regions", "core.merge_regions(list, thres, sz_limit) -> list", "merge similar neighbours" },
    { "split_regions", "core.split_regions(list, nr_pieces, min_sz, seed) -> list", "random splits" },
    { "set_regions", "core.set_regions(list, ranges[, min_sz]) -> list", "fit regions to new ranges" },
  },
  { name = "damos", module = "vmlab.damos", what = "schemes: actions on regions by size, access and age",
    { "parse", "damos.parse(text) -> specs|nil, err", "DAMON's rule lines" },
    { "attach", "damos.attach(m, spec) -> scheme", "add a scheme to a monitor" },
    { "free_mem_rate", "damos.free_mem_rate() -> permil", "the free memory rate, for watermarks" },
    { "actions", "damos.actions", "the action names" },
  },
  { name = "scheme", class = "vmlab.damos.scheme", what = "a DAMOS scheme",
    { "stats", "sc:stats() -> table", "nr_tried sz_tried nr_applied sz_applied qt_exceeds" },
    { "tried_regions", "sc:tried_regions() -> list", "the regions it tried last" },
    { "set_metric", "sc:set_metric(value)", "feed the quota's goal metric" },
    { "close", "sc:close()", "remove it" },
  },
  { name = "workload", module = "vmlab.workload", what = "access patterns on segments",
    { "start", "workload.start{target, pattern, ...} -> w", "start a pattern in the background" },
    { "new", "workload.new{target, pattern, ...} -> w", "a pattern, not started" },
  },
  { name = "workload object", class = "vmlab.workload", what = "a workload",
    { "start", "w:start()", "start it" },
    { "stop", "w:stop()", "stop it" },
    { "stats", "w:stats() -> table", "what it did" },
    { "truth", "w:truth([opts]) -> pages", "the pages it touched: the ground truth" },
    { "close", "w:close()", "stop and free it" },
  },
  { name = "record", module = "vmlab.record", what = "damo's record files",
    { "open", "record.open(path[, opts]) -> writer", "a record to add snapshots to" },
    { "read", "record.read(path) -> snapshots", "read a record (json, json.z, binary)" },
    { "write", "record.write(path, snapshots[, opts]) -> true", "write a whole record" },
  },
  { name = "writer", class = "vmlab.record.writer", what = "a record being written",
    { "add", "w:add(snapshot)", "append a snapshot" },
    { "count", "w:count() -> n", "snapshots written" },
    { "close", "w:close()", "finish the file" },
  },
  { name = "report", module = "vmlab.report", what = "damo's reports on records",
    { "access", "report.access(rec[, opts]) -> text", "damo's `report access` (the raw form)" },
    { "raw", "report.raw(rec[, opts]) -> text", "damo 2's name for access --raw_form" },
    { "wss", "report.wss(rec[, opts]) -> dists, text", "working set size percentiles, as damo's" },
    { "nr_regions", "report.nr_regions(rec[, opts]) -> dists, text", "region count percentiles, as damo's" },
    { "record_info", "report.record_info(rec[, opts]) -> text, guides", "targets, time span and address ranges" },
    { "heatmap", "report.heatmap(rec[, opts]) -> text|true", "damo's heatmap: stdout digits, raw triples or an image" },
    { "heats", "report.heats(rec[, opts]) -> text", "damo 2's name for heatmap --output raw" },
    { "heatmap_image", "report.heatmap_image(path, grid[, opts])", "draw a heat grid as PNG, SVG or PDF" },
    { "footprints", "report.footprints(path[, opts]) -> text", "memory footprint over time, as damo's" },
    { "replay_oracle", "report.replay_oracle(rec[, opts]) -> fn", "a record as the replay backend's oracle" },
    { "replay", "report.replay(rec, seg[, opts]) -> n", "touch a segment as the record says, in real time" },
    { "main", "report.main(kind, ...) -> status", "`vmlab report ...`" },
  },
  { name = "pool", module = "vmlab.pool", what = "a heap on a memory-mapped file",
    { "create", "pool.create{dir|path, size} -> p", "a pool" },
    { "MIN_POOL", "pool.MIN_POOL", "the smallest pool size" },
  },
  { name = "pool object", class = "vmlab.pool.pool", what = "a pool",
    { "alloc", "p:alloc(n[, align]) -> addr", "allocate" },
    { "free", "p:free(addr)", "free (double frees raise)" },
    { "realloc", "p:realloc(addr, n) -> addr", "resize" },
    { "usable", "p:usable(addr) -> n", "the usable size" },
    { "read", "p:read(addr, n) -> bytes", "read pool memory" },
    { "write", "p:write(addr, bytes)", "write pool memory" },
    { "stats", "p:stats() -> table", "allocator counters" },
    { "segment", "p:segment() -> s", "the pool as a segment" },
    { "base", "p:base() -> addr", "where the pool is mapped" },
    { "path", "p:path() -> path", "its file" },
    { "close", "p:close()", "unmap and close" },
  },
  { name = "progress", module = "vmlab.progress", what = "a progress line on stderr for long work (only on a terminal)",
    { "start", "progress.start(what, total[, {unit, min}]) -> p", "begin a line: unit \"count\" (default), \"bytes\" or \"seconds\"; nothing drawn below min, off a terminal or with VMLAB_PROGRESS=0" },
  },
  { name = "progress object", class = "vmlab.progress", what = "a progress line (to-be-closed: local p <close> = ...)",
    { "update", "p:update(done)", "how far the work is (redrawn a few times a second, from 0.3 s on)" },
    { "active", "p:active() -> bool", "whether the line is drawn at all" },
    { "done", "p:done()", "clear the line; idempotent" },
    { "close", "p:close()", "the same as done" },
  },
  { name = "tap", module = "vmlab.tap", what = "Test::More's functions, TAP output",
    { "plan", "tap.plan(n)", "the number of tests" },
    { "done_testing", "tap.done_testing([n])", "the plan at the end" },
    { "ok", "tap.ok(v, name) -> v", "a truth" },
    { "nok", "tap.nok(v, name)", "a falsehood" },
    { "is", "tap.is(got, want, name)", "equality" },
    { "isnt", "tap.isnt(got, want, name)", "inequality" },
    { "like", "tap.like(s, pattern, name)", "a Lua pattern match" },
    { "unlike", "tap.unlike(s, pattern, name)", "no match" },
    { "cmp_ok", "tap.cmp_ok(a, op, b, name)", "a comparison" },
    { "is_deeply", "tap.is_deeply(got, want, name)", "deep equality" },
    { "type_ok", "tap.type_ok(v, type, name)", "a type" },
    { "pass", "tap.pass(name)", "a passing test" },
    { "fail", "tap.fail(name)", "a failing test" },
    { "error_like", "tap.error_like(fn, pattern, name)", "fn raises a matching error" },
    { "lives_ok", "tap.lives_ok(fn, name)", "fn does not raise" },
    { "dies_ok", "tap.dies_ok(fn, name)", "fn raises" },
    { "skip", "tap.skip(why[, n])", "skip tests" },
    { "skip_all", "tap.skip_all(why)", "skip the whole file" },
    { "todo", "tap.todo(why, fn)", "tests expected to fail" },
    { "subtest", "tap.subtest(name, fn)", "a nested test" },
    { "diag", "tap.diag(...)", "a diagnostic on stderr" },
    { "note", "tap.note(...)", "a note on stdout" },
    { "BAIL_OUT", "tap.BAIL_OUT(why)", "stop the whole run" },
    { "requires", "tap.requires{nodes, root, program, ...}", "skip the file unless the machine has them" },
    { "options", "tap.options{format}", "the output dialect: \"tap13\" (TAP 13) or \"ktap\" (KTAP version 1; also VMLAB_TAP=ktap)" },
    { "check", "tap.check(what) -> ok, why", "what requires checks, as a value" },
    { "nr_nodes", "tap.nr_nodes() -> n", "the NUMA node count" },
    { "free_hugepages", "tap.free_hugepages() -> n", "free huge pages" },
  },
  { name = "pretty", module = "vmlab.pretty", what = "values as text (the REPL prints with it)",
    { "format", "pretty.format(v[, opts]) -> text", "a value, tables nested and sorted" },
    { "print", "pretty.print(...)", "print values formatted" },
  },
  { name = "memtoy", module = "vmlab.memtoy", what = "memtoy's command language",
    { "run", "memtoy.run(line[, {exact}]) -> true|nil, msg", "run one command" },
    { "is_command", "memtoy.is_command(line[, {exact}]) -> bool", "whether a line is a command" },
    { "resolve", "memtoy.resolve(word) -> name", "a command from a unique prefix" },
    { "commands", "memtoy.commands() -> {name, ...}", "the commands" },
    { "complete", "memtoy.complete(before, word) -> {candidate, ...}", "completion at the memtoy prompt" },
    { "set_verbose", "memtoy.set_verbose(on)", "echo commands" },
    { "main", "memtoy.main(file|\"-\", flag) -> status", "`vmlab --memtoy`" },
  },
  { name = "damos_effect", module = "vmlab.damos_effect", what = "measuring what a scheme did",
    { "smaps", "damos_effect.smaps(s) -> table", "Rss, AnonHugePages, Locked of a segment" },
    { "rss", "damos_effect.rss(s) -> bytes", "a segment's resident size" },
    { "residency", "damos_effect.residency(s) -> fraction", "the resident fraction" },
  },
  { name = "damon.status", module = "vmlab.damon.status", what = "the kernel's kdamonds, read-only",
    { "kernel_status", "status.kernel_status([{root}]) -> status | nil, err, errno", "kdamonds, contexts, targets, attributes, schemes and stats from sysfs" },
  },
  { name = "damon.kdamond", module = "vmlab.damon.kdamond", what = "a kdamond vmlab configures through sysfs",
    { "start", "kdamond.start{pid|ops, regions, sample, aggr, update, schemes} -> kd | nil, err, errno", "start a kdamond (refused where one vmlab did not start runs)" },
  },
  { name = "kdamond", class = "vmlab.damon.kdamond", what = "a kdamond vmlab started",
    { "scheme", "kd:scheme(i) -> {stats, tried_regions}", "scheme i's stats and tried regions, as the kernel has them" },
    { "schemes", "kd:schemes() -> {scheme, ...}", "every scheme's stats and tried regions" },
    { "update", "kd:update()", "ask the kernel to refresh the schemes' stats" },
    { "state", "kd:state() -> text", "on or off" },
    { "pid", "kd:pid() -> pid", "the kdamond thread's pid" },
    { "stop", "kd:stop()", "turn the kdamond off" },
    { "close", "kd:close()", "stop it and give the kdamond slot back" },
  },
  { name = "trace", module = "vmlab.trace", what = "reference traces (vmtrace) and page-replacement simulation",
    { "start", "trace.start{targets, interval, window, output} -> tracer", "trace segments' page references in process" },
    { "lackey", "trace.lackey{command, output, instructions, timeout, via} -> result", "trace a command exactly under valgrind: vmlab's own tool when built (via=\"vmlab\"), else lackey (via=\"lackey\"); result.via says which" },
    { "events", "trace.events(path) -> iterator", "stream a trace's events {time, tid, target, page, kind}" },
    { "header", "trace.header(path) -> header", "a trace file's page size, time unit and mappings" },
    { "writer", "trace.writer(path[, opts]) -> writer", "write a trace file event by event" },
    { "convert", "trace.convert(in, out[, {from, to}]) -> n", "to and from text, pages, libCacheSim's csv and oracleGeneral" },
    { "simulate", "trace.simulate(refs, {policy, frames, format}) -> rows", "faults per replacement policy and memory size" },
    { "mrc", "trace.mrc(refs, {method, sizes, points, rate, hot}) -> curve", "miss-ratio curves: exact LRU and OPT, SHARDS" },
    { "plot", "trace.plot(path, {output, kind, ...})", "time-address, WSS, reuse distance or MRC charts (cairo)" },
    { "oracle", "trace.oracle(path[, opts]) -> fn, span", "a trace as the replay backend's oracle" },
    { "policies", "trace.policies() -> {{name, source}, ...}", "the policies and the paper or kernel file of each" },
    { "main", "trace.main(...) -> status", "`vmlab trace ...`" },
  },
  { name = "tracer", class = "vmlab.trace.tracer", what = "an in-process trace being recorded",
    { "stop", "tr:stop() -> counts", "finish the trace file" },
    { "counts", "tr:counts() -> {events, faults, ...}", "what was logged so far" },
    { "close", "tr:close()", "stop, as <close> and the collector do" },
  },
  { name = "trace writer", class = "vmlab.trace.writer", what = "a trace file being written",
    { "write", "w:write(event)", "add one event" },
    { "close", "w:close()", "finish the file" },
  },
  { name = "uffd", module = "vmlab.uffd", what = "monitoring other processes with userfaultfd (no kernel DAMON)",
    { "available", "uffd.available() -> bool, why", "whether userfaultfd with UFFDIO_MOVE works here" },
    { "record", "uffd.record{command, output, mode, ...} -> status, measured", "run a command and record its access pattern (`vmlab record`; `include_child_tasks = true`: its children too, as damo's option)" },
    { "agent_here", "uffd.agent_here(token) -> true", "in a vmlab.proc child: start the agent for the parent's uffd monitor (damon.monitor sends it)" },
  },
  { name = "help", module = "vmlab.help", what = "this help",
    { "help", "help([x])", "help on a module, object, function or name" },
    { "markdown", "help.markdown() -> text", "the API as markdown (docs/API.md)" },
    { "lookup", "help.lookup(x) -> group, entry", "the help entry of x" },
    { "groups", "help.groups", "the lines: {name, module|class, what, {name, signature, what}...}" },
  },
}

local function prefix(g)
  if g.module then return (g.module:gsub("^vmlab%.", "")):gsub("^vmlab$", "vmlab") end
  return g.name
end

local function sep(g) return g.class and ":" or "." end

local function group_by_name(name)
  for _, g in ipairs(M.groups) do
    if g.name == name or g.module == name or prefix(g) == name or g.class == name then return g end
  end
end

-- (group, entry) for a value or a name; nil and why for none.
function M.lookup(x)
  local reg = debug.getregistry()
  if x == nil then return nil end
  if type(x) == "string" then
    local base, s, name = x:match("^(.-)([.:])([%w_]+)$")
    if base then
      local g = group_by_name(base)
      if g then
        for _, e in ipairs(g) do if e[1] == name then return g, e end end
      end
    end
    local g = group_by_name(x)
    if g then return g end
    return nil, "no help for '" .. x .. "' (help() lists the modules)"
  end
  if type(x) == "table" then
    for _, g in ipairs(M.groups) do
      if g.module and package.loaded[g.module] == x then return g end
    end
  end
  local mt = getmetatable(x)
  if mt ~= nil then
    for _, g in ipairs(M.groups) do
      if g.class and reg[g.class] == mt then return g end
    end
  end
  if type(x) == "function" then
    for _, g in ipairs(M.groups) do
      local t = g.module and package.loaded[g.module]
      if g.class and reg[g.class] then
        t = type(reg[g.class].__index) == "table" and reg[g.class].__index or reg[g.class].methods
      end
      if type(t) == "table" then
        for _, e in ipairs(g) do if rawget(t, e[1]) == x then return g, e end end
      end
    end
  end
  return nil, "no help for this " .. type(x) .. " (help() lists the modules)"
end

local function width(g)
  local w = 0
  for _, e in ipairs(g) do w = math.max(w, #e[2]) end
  return math.min(w, 56)
end

local function show_group(g, write)
  write(string.format("%s: %s\n", g.name, g.what))
  local w = width(g)
  for _, e in ipairs(g) do write(string.format("  %-" .. w .. "s  %s\n", e[2], e[3])) end
end

function M.help(x)
  local write = function(s) io.stdout:write(s) end
  if x == nil then
    write("vmlab's modules (globals in the REPL); help(x) for one, x a module, object or name:\n")
    for _, g in ipairs(M.groups) do write(string.format("  %-16s %s\n", g.name, g.what)) end
    write("memtoy's commands work as typed (help <command>): " .. table.concat(require("vmlab.memtoy").commands(), " ") .. "\n")
    io.stdout:flush()
    return
  end
  local g, e = M.lookup(x)
  if not g and type(x) == "string" then
    local memtoy = require "vmlab.memtoy"
    if memtoy.is_command(x, { exact = true }) then
      memtoy.run("help " .. x)
      return
    end
  end
  if not g then error(e, 2) end
  if e then
    write(string.format("%s  %s\n", e[2], e[3]))
  else
    show_group(g, write)
  end
  io.stdout:flush()
end

function M.markdown()
  local out = { "# vmlab's Lua API\n\n",
    "Generated from `stdlib/vmlab/help.lua` (the REPL's `help`): ",
    "`build/vmlab -e 'io.write(require(\"vmlab.help\").markdown())' > docs/API.md`.\n" }
  for _, g in ipairs(M.groups) do
    out[#out + 1] = string.format("\n## %s\n\n%s.\n\n| call | what |\n|---|---|\n", g.name,
      g.what:sub(1, 1):upper() .. g.what:sub(2))
    for _, e in ipairs(g) do
      out[#out + 1] = string.format("| `%s` | %s |\n", (e[2]:gsub("|", "\\|")), (e[3]:gsub("|", "\\|")))
    end
  end
  return table.concat(out)
end

return setmetatable(M, { __call = function(_, ...) return M.help(...) end })
