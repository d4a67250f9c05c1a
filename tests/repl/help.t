-- help's data (stdlib/vmlab/help.lua) against the modules: every function
-- a module or class exports has a line, every line names something real,
-- and docs/API.md is what help.markdown() writes.
local t = require "vmlab.tap"
local help = require "vmlab.help"

-- Load every module and make one of each object whose class has no
-- other way in (their metatables are registered at require time).
for _, g in ipairs(help.groups) do
  if g.module then require(g.module) end
end
local reg = debug.getregistry()

for _, g in ipairs(help.groups) do
  local exported, listed = {}, {}
  if g.module then
    for k in pairs(require(g.module)) do
      if type(k) == "string" and k:sub(1, 1) ~= "_" then exported[k] = true end
    end
  else
    local mt = reg[g.class]
    t.ok(mt, g.name .. ": class " .. g.class .. " is registered")
    local methods = mt and (type(mt.__index) == "table" and mt.__index or mt.methods) or {}
    for k in pairs(methods) do exported[k] = true end
  end
  for _, e in ipairs(g) do listed[e[1]] = true end
  local missing, stale = {}, {}
  for k in pairs(exported) do if not listed[k] then missing[#missing + 1] = k end end
  for k in pairs(listed) do if not exported[k] then stale[#stale + 1] = k end end
  table.sort(missing)
  table.sort(stale)
  t.is(table.concat(missing, " "), "", g.name .. ": every export has a help line")
  t.is(table.concat(stale, " "), "", g.name .. ": every help line names an export")
end

-- Lookups by value and by name.
local seg = require "vmlab.seg"
local s <close> = seg.anon("help_t", "64k")
t.is((help.lookup(seg)).name, "seg", "a module by value")
t.is((help.lookup(s)).name, "segment", "a segment by value (its metatable)")
t.is(select(2, help.lookup(s.touch))[1], "touch", "a method by value")
t.is(select(2, help.lookup("seg.anon"))[1], "anon", "a function by name")
t.is(select(2, help.lookup("segment:where"))[1], "where", "a method by name")
t.is(help.lookup("nope.nothing"), nil, "an unknown name")

-- docs/API.md is generated from the same lines.
local root = debug.getinfo(1, "S").source:match("^@(.*)/tests/repl/[^/]*$") or "."
local f = io.open(root .. "/docs/API.md")
t.ok(f, "docs/API.md exists")
if f then
  t.ok(f:read("a") == help.markdown(),
    "docs/API.md is help.markdown() (regenerate: build/vmlab -e 'io.write(require(\"vmlab.help\").markdown())' > docs/API.md)")
  f:close()
end
t.done_testing()
