-- vmlab.record_cli: `vmlab record [options] -- command [args...]`
--
-- Runs the command with vmlab's userfaultfd agent preloaded, monitors its
-- memory with DAMON's algorithm until it ends, writes a record damo reads
-- (damo report raw/wss/heatmap, or `vmlab report`), and exits with the
-- command's status (128+N when a signal N ended it; 125 when vmlab could
-- not monitor or write the record).

local M = {}

local usage = [[
usage: vmlab record [options] [--] command [args...]
Run a command and record its memory access pattern (DAMON's regions,
sampled in user space with userfaultfd: no kernel DAMON needed).
  -o, --out FILE       the record (default damon.data)
  --format F           json_compressed (default), json or record
  --sample T           sampling interval (default 5ms)
  --aggr T             aggregation interval (default 100ms)
  --update T           regions update interval (default 1s)
  --min N, --max N     number of regions (default 10, 1000)
  --budget F           CPU share for monitoring, of one CPU (default 0.03):
                       vmlab's, the agent's, and the command's time
                       blocked on faults; sampling slows down to keep it
  --mode M             rw (reads and writes: moves pages, the default) or
                       write (writes only, no moves, cheaper)
  --timeout T          stop monitoring after T (the command goes on)
  --include_child_tasks  monitor the command's children too (damo's
                       option; --include-child-tasks too): each process
                       it forks (or that execs under it) with the agent
                       is a target of its own; recording goes on until
                       every target ended (or --timeout)
  -v, --verbose        a summary on stderr at the end
  -h, --help           this text
]]

local valued = {
  ["-o"] = "out", ["--out"] = "out", ["--format"] = "format", ["--sample"] = "sample",
  ["--aggr"] = "aggr", ["--update"] = "update", ["--min"] = "min_regions", ["--max"] = "max_regions",
  ["--budget"] = "budget", ["--mode"] = "mode", ["--timeout"] = "timeout", ["--seed"] = "seed",
}
local numeric = { min_regions = true, max_regions = true, budget = true, seed = true }

function M.main(...)
  local args = { ... }
  local opts, cmd = { out = "damon.data" }, {}
  local i = 1
  local function fail(msg)
    io.stderr:write("vmlab record: ", msg, "\n")
    return 125
  end
  while i <= #args do
    local a = args[i]
    if a == "--" then i = i + 1; break
    elseif a == "-h" or a == "--help" then io.stdout:write(usage); return 0
    elseif a == "-v" or a == "--verbose" then opts.verbose = true; i = i + 1
    elseif a == "--include_child_tasks" or a == "--include-child-tasks" then
      opts.include_child_tasks = true; i = i + 1
    elseif valued[a] then
      local v = args[i + 1]
      if v == nil then return fail("option " .. a .. " needs a value\n" .. usage) end
      local k = valued[a]
      if numeric[k] then
        v = tonumber(v)
        if not v then return fail("option " .. a .. " needs a number, not '" .. args[i + 1] .. "'") end
        if k ~= "budget" then
          v = math.tointeger(v)
          if not v then return fail("option " .. a .. " needs a whole number") end
        end
      end
      opts[k] = v
      i = i + 2
    elseif a:sub(1, 1) == "-" then return fail("unknown option '" .. a .. "'\n" .. usage)
    else break
    end
  end
  for k = i, #args do cmd[#cmd + 1] = args[k] end
  if #cmd == 0 then return fail("no command to run\n" .. usage) end
  opts.command = cmd
  local ok, status, err = pcall(require("vmlab.uffd").record, opts)
  if not ok then return fail(tostring(status):gsub("^uffd%.record: ", "")) end
  if not status then
    err = err:gsub("^uffd%.record: ", "")
    local code = fail(err)
    -- as a shell: 127 when the command is not found, 126 when it cannot run
    if err:find("^exec%(") then code = err:find("No such file") and 127 or 126 end
    return code
  end
  return status
end

return M
