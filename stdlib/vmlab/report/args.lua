-- vmlab.report.args: command-line options as damo's argparse takes them:
-- long names (or an unambiguous prefix of one), short aliases, a fixed
-- number of values, "+" for one or more, flags, choices and appends.
--
--   spec = { { "--range", "-r", nargs = 3, type = "int", meta = "<start> <stop> <step>" },
--            { "--raw_number", flag = true }, ... }
--   parse(cmd, spec, args) -> opts (keyed by the long name without dashes)
-- Errors are plain messages (no position): the caller prints them.

local M = {}

local function key_of(o) return (o[1]:gsub("^%-%-", "")) end

local function listing(spec)
  local names = {}
  for _, o in ipairs(spec) do
    local n = o[1]
    if o[2] then n = o[2] .. "/" .. n end
    names[#names + 1] = n
  end
  return table.concat(names, ", ")
end
M.listing = listing

local function convert(cmd, o, v)
  if o.type == "int" then
    local n = math.tointeger(tonumber(v))
    if not n then error(("%s: option %s takes whole numbers, not '%s'"):format(cmd, o[1], v), 0) end
    return n
  elseif o.type == "number" then
    local n = tonumber(v)
    if not n or n ~= n then error(("%s: option %s takes numbers, not '%s'"):format(cmd, o[1], v), 0) end
    return n
  end
  if o.choices then
    for _, c in ipairs(o.choices) do if c == v then return v end end
    error(("%s: option %s: '%s' is not one of %s"):format(cmd, o[1], v, table.concat(o.choices, ", ")), 0)
  end
  return v
end

local function find(cmd, spec, a)
  local exact, prefix = nil, {}
  for _, o in ipairs(spec) do
    if o[1] == a or o[2] == a then exact = o end
    if a:sub(1, 2) == "--" and #a > 2 and o[1]:sub(1, #a) == a then prefix[#prefix + 1] = o end
  end
  if exact then return exact end
  if #prefix == 1 then return prefix[1] end
  if #prefix > 1 then
    local names = {}
    for _, o in ipairs(prefix) do names[#names + 1] = o[1] end
    error(("%s: option '%s' is ambiguous (%s)"):format(cmd, a, table.concat(names, ", ")), 0)
  end
  error(("%s: unknown option '%s'; valid options: %s"):format(cmd, a, listing(spec)), 0)
end

local function is_option(s)
  return s and s:sub(1, 1) == "-" and #s > 1 and not tonumber(s)
end

function M.parse(cmd, spec, args)
  local opts, positional = {}, {}
  for _, o in ipairs(spec) do
    local k = key_of(o)
    if o.default ~= nil then
      if type(o.default) == "table" then
        local c = {}
        for i, v in ipairs(o.default) do c[i] = v end
        opts[k] = c
      else
        opts[k] = o.default
      end
    end
  end
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for k = i + 1, #args do positional[#positional + 1] = args[k] end
      break
    end
    if not is_option(a) then
      positional[#positional + 1] = a
      i = i + 1
    else
      local inline
      if a:find("=", 1, true) and a:sub(1, 2) == "--" then a, inline = a:match("^([^=]*)=(.*)$") end
      local o = find(cmd, spec, a)
      local k = key_of(o)
      i = i + 1
      if o.flag then
        if inline then error(("%s: option %s takes no value"):format(cmd, o[1]), 0) end
        opts[k] = o.value == nil and true or o.value
      else
        local vals = {}
        if inline then vals[1] = inline end
        local want = o.nargs or 1
        if want == "+" then
          while args[i] and not is_option(args[i]) do vals[#vals + 1] = args[i]; i = i + 1 end
          if #vals == 0 then
            error(("%s: option %s needs %s"):format(cmd, o[1], o.meta or "one or more values"), 0)
          end
        else
          while #vals < want do
            if args[i] == nil or is_option(args[i]) then
              error(("%s: option %s needs %s"):format(cmd, o[1], o.meta or (want .. " value(s)")), 0)
            end
            vals[#vals + 1] = args[i]
            i = i + 1
          end
        end
        for n, v in ipairs(vals) do vals[n] = convert(cmd, o, v) end
        local v = vals
        if o.nargs == nil then v = vals[1] end
        if o.append then
          if type(opts[k]) ~= "table" or opts[k] == o.default then opts[k] = {} end
          opts[k][#opts[k] + 1] = v
        else
          opts[k] = v
        end
      end
    end
  end
  return opts, positional
end

return M
