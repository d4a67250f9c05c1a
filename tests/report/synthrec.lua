-- A synthetic damo record for tests that need a long one (dofile it):
-- n snapshots 100 ms apart, each of k 1 MiB regions whose nr_accesses vary
-- with time and place, so every report has something to draw.
local record = require "vmlab.record"
return function(path, n, k)
  local snaps, base = {}, 0x7f0000000000
  for i = 1, n do
    local regions = {}
    for r = 1, k do
      regions[r] = { start = base + (r - 1) * (1 << 20), ["end"] = base + r * (1 << 20),
        nr_accesses = (i * r) % 21, age = r }
    end
    snaps[i] = { time_us = i * 100000, targets = { { id = 0, regions = regions } } }
  end
  assert(record.write(path, snaps, { intervals = { sample = 0.005, aggr = 0.1, update = 1 } }))
end
