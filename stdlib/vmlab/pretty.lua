-- vmlab.pretty: values as the REPL shows them.  Tables are printed nested
-- with keys sorted, cycles marked, and a cap on depth and items so that a
-- huge table never floods the terminal; userdata shows its __tostring.

local M = {}

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in local nil not
  or repeat return then true until while]]):gmatch("%a+") do keywords[w] = true end

local function is_ident(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil and not keywords[k]
end

local function scalar(v)
  local ty = type(v)
  if ty == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if ty == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.14g", v)
  end
  if ty == "table" or ty == "userdata" then
    local mt = debug.getmetatable(v)
    if mt and mt.__tostring then
      local ok, s = pcall(tostring, v)
      if ok then return s end
    end
  end
  return tostring(v)
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta == "number" end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

-- format(v[, opts]) -> string; opts.depth (default 4), opts.items (per
-- table, default 50), opts.indent (default "  ").
function M.format(v, opts)
  opts = require("vmlab").checkopts(opts, "pretty.format", { "depth", "items", "indent" }) or {}
  local maxdepth, maxitems, ind = opts.depth or 4, opts.items or 50, opts.indent or "  "
  local seen = {}
  local function fmt(x, depth)
    if type(x) ~= "table" then return scalar(x) end
    local mt = debug.getmetatable(x)
    if mt and mt.__tostring then return scalar(x) end
    if seen[x] then return "<cycle: " .. tostring(x) .. ">" end
    if next(x) == nil then return "{}" end
    if depth >= maxdepth then return "{...}" end
    seen[x] = true
    local n, parts, keys = #x, {}, {}
    for i = 1, n do parts[#parts + 1] = fmt(x[i], depth + 1) end
    for k in pairs(x) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, key_order)
    for _, k in ipairs(keys) do
      local ks = is_ident(k) and k or "[" .. scalar(k) .. "]"
      parts[#parts + 1] = ks .. " = " .. fmt(x[k], depth + 1)
    end
    seen[x] = nil
    local more = 0
    if #parts > maxitems then
      more = #parts - maxitems
      for i = #parts, maxitems + 1, -1 do parts[i] = nil end
      parts[#parts + 1] = "... (" .. more .. " more)"
    end
    local flat = "{ " .. table.concat(parts, ", ") .. " }"
    if #flat <= 72 and not flat:find("\n") then return flat end
    local pad = ind:rep(depth + 1)
    return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. "\n" .. ind:rep(depth) .. "}"
  end
  return fmt(v, 0)
end

-- print(...) with each value formatted, tab-separated as print does.
function M.print(...)
  local n = select("#", ...)
  local out = {}
  for i = 1, n do out[i] = M.format((select(i, ...))) end
  io.stdout:write(table.concat(out, "\t"), "\n")
  io.stdout:flush()
end

setmetatable(M, { __call = function(_, ...) return M.print(...) end })
return M
