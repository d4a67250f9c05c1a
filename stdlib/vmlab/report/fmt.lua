-- vmlab.report.fmt: numbers printed as damo prints them (its
-- _damo_fmt_str), so that the reports compare line for line.  damo is
-- Python: '%d' of a float truncates towards zero, and a float printed with
-- '%s' is Python's shortest round-trip repr; both are reproduced here.

local M = {}

local ULONG_MAX = 18446744073709551615.0   -- damo's ulong_max, 2^64 - 1

-- Python's int(x): towards zero.
function M.trunc(x)
  if math.type(x) == "integer" then return x end
  if x ~= x or x == math.huge or x == -math.huge then return x end
  local i = x >= 0 and math.floor(x) or math.ceil(x)
  return math.tointeger(i) or i
end

local function d(x)
  local t = M.trunc(x)
  if math.type(t) == "integer" then return string.format("%d", t) end
  return string.format("%.0f", t)
end
M.d = d

-- An unsigned 64-bit integer (target ids are kernel pointers).
function M.u64(x)
  if math.type(x) == "integer" then return string.format("%u", x) end
  return tostring(x)
end

-- Python's repr(float): the shortest digits that read back the same;
-- fixed notation for exponents -4..15, else d.ddde+XX.
function M.pyfloat(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" elseif x == -math.huge then return "-inf" end
  if x == 0 then return (1 / x < 0) and "-0.0" or "0.0" end
  local s
  for p = 1, 17 do
    s = string.format("%." .. (p - 1) .. "e", x)
    if tonumber(s) == x then break end
  end
  local sign, mant, exp = s:match("^(%-?)([%d%.]+)e([-+]%d+)$")
  exp = tonumber(exp)
  local digits = mant:gsub("%.", "")
  digits = digits:gsub("0+$", "")
  if digits == "" then digits = "0" end
  if exp >= -4 and exp < 16 then
    local pos = exp + 1        -- digits before the point
    if pos <= 0 then
      return sign .. "0." .. string.rep("0", -pos) .. digits
    elseif pos >= #digits then
      return sign .. digits .. string.rep("0", pos - #digits) .. ".0"
    else
      return sign .. digits:sub(1, pos) .. "." .. digits:sub(pos + 1)
    end
  end
  local m = #digits > 1 and (digits:sub(1, 1) .. "." .. digits:sub(2)) or digits
  return string.format("%s%se%s%02d", sign, m, exp < 0 and "-" or "+", math.abs(exp))
end

-- A number as damo's '%s' would print it: ints as ints, floats as repr.
function M.pynum(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  return M.pyfloat(x)
end

local function nr_positive(n, raw)
  local s = d(n)
  if raw then return s end
  local fields = {}
  for i = #s, 1, -3 do
    table.insert(fields, 1, s:sub(math.max(1, i - 2), i))
  end
  return table.concat(fields, ",")
end

function M.nr(n, raw)
  if n < 0 then return "-" .. nr_positive(-n, raw) end
  return nr_positive(n, raw)
end

local function sz(fmt)
  return function(b, raw)
    if raw then return d(b) end
    b = b + 0.0
    if b == 18446744073709551615.0 then return "max" end
    local units = { { 1 << 60, "EiB" }, { 1 << 50, "PiB" }, { 1 << 40, "TiB" }, { 1 << 30, "GiB" },
      { 1 << 20, "MiB" }, { 1 << 10, "KiB" } }
    for _, u in ipairs(units) do
      if b > u[1] then return string.format(fmt .. " %s", b / u[1], u[2]) end
    end
    return d(b) .. " B"
  end
end
M.sz = sz("%.3f")
M.sz_accurate = sz("%f")

local us, ms, sec = 1000, 1000000, 1000000000
local minute, hour = 60 * sec, 3600 * sec

-- damo's format_time_ns: "104.599 ms", "8 m 59.809 s", "1 h 2 m 3 s".
function M.time_ns(t, raw)
  if raw then return d(t) end
  t = t + 0.0
  local sign = ""
  if t < 0 then sign = "-"; t = -t end
  if t >= ULONG_MAX then return sign .. "max" end
  if t >= hour then
    local h = M.trunc(t / hour)
    local less = t - h * hour
    if less == 0 then return string.format("%s%d h", sign, h) end
    return string.format("%s%d h %s", sign, h, M.time_ns(less, false))
  end
  if t >= minute then
    if math.fmod(t, minute) == 0 then return sign .. d(t / minute) .. " m" end
    if math.fmod(t, sec) == 0 then
      return string.format("%s%s m %s s", sign, d(t / minute), d(math.fmod(t, minute) / sec))
    end
    return string.format("%s%s m %.3f s", sign, d(t / minute), math.fmod(t, minute) / sec)
  end
  for _, u in ipairs { { sec, "s" }, { ms, "ms" }, { us, "us" } } do
    if t >= u[1] then
      if math.fmod(t, u[1]) == 0 then return sign .. d(t / u[1]) .. " " .. u[2] end
      return string.format("%s%.3f %s", sign, t / u[1], u[2])
    end
  end
  return sign .. d(t) .. " ns"
end

function M.time_us(t, raw)
  if raw then return d(t) end
  return M.time_ns(t * 1000, false)
end

-- Python's float % (the result takes the divisor's sign).
local function pymod(a, b)
  local m = math.fmod(a, b)
  if m ~= 0 and ((m < 0) ~= (b < 0)) then m = m + b end
  return m
end

-- damo's format_ratio / format_percent: "90 %", "33.3333333 %".
function M.ratio(ratio, raw)
  if raw then return string.format("%f", ratio) end
  local over = M.nr(M.trunc(ratio * 100), false)
  local under = string.format("%.7f", pymod(ratio * 100, 1)):gsub("0+$", ""):sub(3)
  if under == "" then return over .. " %" end
  return over .. "." .. under .. " %"
end

function M.percent(p, raw)
  if raw then return string.format("%f", p) end
  return M.ratio(p / 100, false)
end

function M.hz(hz, raw, no_suffix)
  if raw then return string.format("%f", hz) end
  local suffix = no_suffix and "" or " hz"
  if hz < 10 and hz ~= 0 then return string.format("%.3f", hz) .. suffix end
  return M.nr(hz, false) .. suffix
end

return M
