-- Errors that say what happened: no errno that points elsewhere.
local t = require "vmlab.tap"
local seg = require "vmlab.seg"
local numa = require "vmlab.numa"
local damon = require "vmlab.damon"

-- seg.file past the end of the file: the offset and the file size, not a
-- bare "No such device or address".
local path = os.tmpname()
local f = assert(io.open(path, "w"))
f:write(string.rep("x", 8192))
f:close()
local s, msg, err = seg.file(path, { offset = "16k" })
t.is(s, nil, "an offset past the end of the file fails")
t.like(msg, "offset 16384 is at or past the end of the file %(8192 bytes%)", "naming the offset and the size")
t.is(err, 6, "ENXIO")
s, msg = seg.file(path, { offset = "8k" })
t.like(msg, "offset 8192 is at or past the end", "an offset at the end too")
s = assert(seg.file(path, { offset = "4k" }))
t.is(s.size, 4096, "an offset inside maps the rest")
s:close()
os.remove(path)

-- numa.cpus(-1) is about cpus, not nodes
t.error_like(function() numa.cpus(-1) end, "cpu number %-1 out of range", "numa.cpus(-1) speaks of cpus")
t.error_like(function() numa.cpus({ 0, 5000 }) end, "cpu number 5000", "a cpu past the mask")

-- The fault-hook limit: covered in prot_seg.t (the ninth prot monitor).

-- As nobody, the kernel's DAMON sysfs files exist but cannot be read:
-- that is EACCES, not "no sysfs interface".
local ok, why = t.check { root = true, program = "setpriv" }
local have = io.open("/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds") ~= nil
if ok and have then
  local vmlab = os.getenv("VMLAB") or "build/vmlab"
  local p = io.popen("setpriv --reuid=nobody --regid=nogroup --clear-groups " .. vmlab
    .. [[ -e 'print(select(2, require("vmlab.damon").kernel_available()))' 2>&1]])
  local out = p:read("a")
  p:close()
  t.like(out, "Permission denied", "kernel_available() as nobody says permission denied: " .. out)
  t.unlike(out, "no DAMON sysfs interface", "not that the interface is missing")
else
  t.skip(ok and "no DAMON sysfs interface here" or why, 2)
end
t.done_testing()
