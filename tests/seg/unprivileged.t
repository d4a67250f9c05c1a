-- What an ordinary user may not do, tested for real as nobody.
local t = require "vmlab.tap"
t.requires { root = true, program = "setpriv" }
local vmlab = os.getenv("VMLAB") or "build/vmlab"
if vmlab:sub(1, 1) ~= "/" then
  local p = io.popen("pwd"); vmlab = p:read("l") .. "/" .. vmlab; p:close()
end

local script = os.tmpname()
local f = assert(io.open(script, "w"))
f:write([[
local seg = require "vmlab.seg"
local out = {}
local s = seg.anon("u", "64k")
s:touch()
-- MPOL_MF_MOVE_ALL needs CAP_SYS_NICE
local r, msg, err = s:mbind("bind+move+all", "0")
out[#out + 1] = "mbind " .. tostring(err) .. " " .. tostring(msg)
r, msg, err = s:move(0, { flags = "all" })
out[#out + 1] = "move " .. tostring(err) .. " " .. tostring(msg)
-- past RLIMIT_MEMLOCK
local big = seg.anon("big", "64m")
r, msg, err = big:lock()
out[#out + 1] = "lock " .. tostring(err) .. " " .. tostring(msg)
r = s:lock({ length = "4k" })
out[#out + 1] = "small " .. tostring(r)
out[#out + 1] = "touch " .. tostring((s:touch()))
print(table.concat(out, "\n"))
]])
f:close()
os.execute("chmod 0644 " .. script)

local cmd = string.format("setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all sh -c 'ulimit -l 64; %s %s' 2>&1", vmlab, script)
local p = io.popen(cmd)
local out = p:read("a")
local ok = p:close()
os.remove(script)
if not ok and not out:find("mbind") then
  t.skip_all("cannot run vmlab as nobody here: " .. out:gsub("\n", " "))
end
t.like(out, "mbind 1 mbind%(seg 'u' %+0 64 KiB, bind%+move%+all {0}%): Operation not permitted", "MPOL_MF_MOVE_ALL as nobody: EPERM")
t.like(out, "move 1 move_pages%(seg 'u' %+0 64 KiB, to node 0%): Operation not permitted", "move_pages MOVE_ALL as nobody: EPERM")
if require("vmlab").sanitized then
  t.skip("AddressSanitizer intercepts mlock() and makes it a no-op", 2)
else
  local lock_err = tonumber(out:match("lock (%d+)"))
  t.ok(lock_err == 12 or lock_err == 1, "mlock past RLIMIT_MEMLOCK: ENOMEM or EPERM (got " .. tostring(lock_err) .. ")")
  t.like(out, "lock %d+ mlock%(seg 'big' %+0 64 MiB%)", "the message names the call and the segment")
end
t.like(out, "small true", "locking within the limit works as nobody")
t.like(out, "touch 16", "and ordinary work goes on")
t.done_testing()
