-- The page-replacement simulator: textbook cases, OPT as a lower bound,
-- and every policy against a small reference implementation written here
-- (plain arrays, linear searches) on random traces.
local t = require "vmlab.tap"
local trace = require "vmlab.trace"

local function faults(refs, policy, frames)
  return trace.simulate(refs, { policy = policy, frames = frames })[1].faults
end

-- Belady's anomaly (Belady, Nelson, Shedler 1969)
local anomaly = { 1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5 }
t.is(faults(anomaly, "fifo", 3), 9, "FIFO, 3 frames: 9 faults")
t.is(faults(anomaly, "fifo", 4), 10, "FIFO, 4 frames: 10 faults (Belady's anomaly)")
t.is(faults(anomaly, "opt", 3), 7, "OPT, 3 frames: 7 faults")
t.is(faults(anomaly, "lru", 3), 10, "LRU, 3 frames: 10 faults")
t.is(faults(anomaly, "lru", 4), 8, "LRU, 4 frames: 8 (a stack algorithm has no anomaly)")

-- ---- reference implementations ----
local function idx(a, x) for i = 1, #a do if a[i] == x then return i end end end
local function remove(a, x) table.remove(a, idx(a, x)) end
local ref = {}

function ref.opt(r, c)
  local res, n, f = {}, 0, 0
  for i, x in ipairs(r) do
    if not res[x] then
      f = f + 1
      if n == c then
        local far, victim = -1
        for p in pairs(res) do
          local nx = #r + 1
          for j = i + 1, #r do if r[j] == p then nx = j break end end
          if nx > far then far, victim = nx, p end
        end
        res[victim] = nil
        n = n - 1
      end
      res[x] = true
      n = n + 1
    end
  end
  return f
end

function ref.lru(r, c)
  local q, f = {}, 0 -- q[1] most recent
  for _, x in ipairs(r) do
    local i = idx(q, x)
    if i then table.remove(q, i) else
      f = f + 1
      if #q == c then table.remove(q) end
    end
    table.insert(q, 1, x)
  end
  return f
end

function ref.fifo(r, c)
  local q, f = {}, 0
  for _, x in ipairs(r) do
    if not idx(q, x) then
      f = f + 1
      if #q == c then table.remove(q, 1) end
      q[#q + 1] = x
    end
  end
  return f
end

-- second chance as a FIFO queue: a referenced oldest page goes to the back
local function second(r, c, loaded)
  local q, R, f = {}, {}, 0
  for _, x in ipairs(r) do
    if idx(q, x) then R[x] = true else
      f = f + 1
      if #q == c then
        while R[q[1]] do R[q[1]] = false; local y = table.remove(q, 1); q[#q + 1] = y end
        table.remove(q, 1)
      end
      q[#q + 1] = x
      R[x] = loaded
    end
  end
  return f
end
function ref.clock(r, c) return second(r, c, false) end
ref["second-chance"] = function(r, c) return second(r, c, true) end

function ref.lfu(r, c)
  local freq, last, res, n, f = {}, {}, {}, 0, 0
  for i, x in ipairs(r) do
    if res[x] then freq[x] = freq[x] + 1 else
      f = f + 1
      if n == c then
        local v
        for p in pairs(res) do
          if not v or freq[p] < freq[v] or (freq[p] == freq[v] and last[p] < last[v]) then v = p end
        end
        res[v] = nil; n = n - 1
      end
      res[x] = true; freq[x] = 1; n = n + 1
    end
    last[x] = i
  end
  return f
end

function ref.sieve(r, c)
  local q, vis, hand, f = {}, {}, nil, 0 -- q[1] oldest ... q[#q] newest
  for _, x in ipairs(r) do
    if idx(q, x) then vis[x] = true else
      f = f + 1
      if #q == c then
        local o = hand or 1
        while vis[q[o]] do
          vis[q[o]] = false
          o = o + 1
          if o > #q then o = 1 end
        end
        table.remove(q, o)
        hand = o <= #q and o or nil
      end
      q[#q + 1] = x
      vis[x] = false
    end
  end
  return f
end

ref["2q"] = function(r, c)
  local kin, kout = math.max(1, c // 4), math.max(1, c // 2)
  local a1in, a1out, am, f = {}, {}, {}, 0 -- index 1 = head (newest)
  for _, x in ipairs(r) do
    if idx(am, x) then remove(am, x); table.insert(am, 1, x)
    elseif idx(a1in, x) then
    else
      f = f + 1
      local ghost = idx(a1out, x) ~= nil -- decided before reclaimfor
      if ghost then remove(a1out, x) end
      if #a1in + #am == c then
        if #a1in > kin or #am == 0 then
          local y = table.remove(a1in)
          table.insert(a1out, 1, y)
          if #a1out > kout then table.remove(a1out) end
        else table.remove(am) end
      end
      if ghost then table.insert(am, 1, x) else table.insert(a1in, 1, x) end
    end
  end
  return f
end

function ref.arc(r, c)
  local T1, T2, B1, B2, p, f = {}, {}, {}, {}, 0, 0 -- index 1 = MRU
  local function replace(inb2)
    if #T1 >= 1 and ((inb2 and #T1 == p) or #T1 > p) then
      table.insert(B1, 1, table.remove(T1))
    else
      table.insert(B2, 1, table.remove(T2))
    end
  end
  for _, x in ipairs(r) do
    if idx(T1, x) or idx(T2, x) then
      if idx(T1, x) then remove(T1, x) else remove(T2, x) end
      table.insert(T2, 1, x)
    elseif idx(B1, x) then
      f = f + 1
      p = math.min(c, p + (#B1 >= #B2 and 1 or #B2 / #B1))
      replace(false); remove(B1, x); table.insert(T2, 1, x)
    elseif idx(B2, x) then
      f = f + 1
      p = math.max(0, p - (#B2 >= #B1 and 1 or #B1 / #B2))
      replace(true); remove(B2, x); table.insert(T2, 1, x)
    else
      f = f + 1
      if #T1 + #B1 == c then
        if #T1 < c then table.remove(B1); replace(false) else table.remove(T1) end
      else
        local tot = #T1 + #T2 + #B1 + #B2
        if tot >= c then
          if tot == 2 * c then table.remove(B2) end
          replace(false)
        end
      end
      table.insert(T1, 1, x)
    end
  end
  return f
end

function ref.lirs(r, c)
  local lhirs = math.max(1, c // 100)
  local llirs = c - lhirs
  local S, Q, lir, res, nlir, used, f = {}, {}, {}, {}, 0, 0, 0 -- S[1] top; Q[1] front (oldest)
  local function prune()
    while #S > 0 and not lir[S[#S]] do table.remove(S) end
  end
  local function demote()
    prune()
    if #S == 0 then return end
    local y = table.remove(S)
    lir[y] = false
    Q[#Q + 1] = y
    prune()
  end
  for _, x in ipairs(r) do
    if lir[x] then
      local bottom = S[#S] == x
      remove(S, x); table.insert(S, 1, x)
      if bottom then prune() end
    elseif res[x] then
      if idx(S, x) then
        remove(S, x); table.insert(S, 1, x); remove(Q, x)
        lir[x] = true
        demote()
      else
        table.insert(S, 1, x); remove(Q, x); Q[#Q + 1] = x
      end
    else
      f = f + 1
      if nlir < llirs then
        if idx(S, x) then remove(S, x) end
        table.insert(S, 1, x); lir[x] = true; res[x] = true
        nlir = nlir + 1; used = used + 1
      else
        if used == c then
          local v = table.remove(Q, 1)
          res[v] = false; used = used - 1
        end
        used = used + 1
        res[x] = true
        if idx(S, x) then
          remove(S, x); table.insert(S, 1, x); lir[x] = true
          demote()
        else
          table.insert(S, 1, x); Q[#Q + 1] = x
        end
      end
    end
  end
  return f
end

ref["s3-fifo"] = function(r, c)
  local scap = math.max(1, math.floor(0.1 * c))
  local mcap = c - math.min(scap, c)
  local gcap = math.floor(0.9 * c)
  local S, M, G, freq, f, evicted = {}, {}, {}, {}, 0, false -- index 1 = tail (oldest)
  for _, x in ipairs(r) do
    if idx(S, x) or idx(M, x) then freq[x] = math.min(3, freq[x] + 1) else
      f = f + 1
      local ghost = idx(G, x) ~= nil
      if ghost then remove(G, x) end
      while #S + #M >= c do
        evicted = true
        if #M > mcap or #S == 0 then
          while true do
            local t0 = table.remove(M, 1)
            if freq[t0] >= 1 then freq[t0] = freq[t0] - 1; M[#M + 1] = t0 else break end
          end
        else
          while #S > 0 do
            local t0 = table.remove(S, 1)
            if freq[t0] >= 2 then M[#M + 1] = t0; freq[t0] = 0 else
              if gcap > 0 then
                if #G == gcap then table.remove(G, 1) end
                G[#G + 1] = t0
              end
              break
            end
          end
        end
      end
      freq[x] = 0
      if ghost or (not evicted and #S >= scap) then M[#M + 1] = x else S[#S + 1] = x end
    end
  end
  return f
end

function ref.linux(r, c)
  local I, A, young, refd, f = {}, {}, {}, {}, 0 -- index 1 = head
  for _, x in ipairs(r) do
    if idx(I, x) or idx(A, x) then young[x] = true else
      f = f + 1
      while #I + #A == c do
        if #I < #A then
          local y = table.remove(A); young[y] = false; table.insert(I, 1, y)
        else
          local y = table.remove(I)
          local was = refd[y]; refd[y] = false
          if young[y] then
            young[y] = false; refd[y] = true
            if was then table.insert(A, 1, y) else table.insert(I, 1, y) end
          end
        end
      end
      young[x] = true; refd[x] = false
      table.insert(I, 1, x)
    end
  end
  return f
end

function ref.mglru(r, c)
  local gens, young, res, used, f = {}, {}, {}, 0, 0 -- gens[seq] = array, index 1 = head
  local min_seq, max_seq = 0, 1
  gens[0], gens[1] = {}, {}
  for _, x in ipairs(r) do
    if res[x] then young[x] = true else
      f = f + 1
      while used == c do
        if #gens[min_seq] == 0 then
          if max_seq - min_seq + 1 > 2 then min_seq = min_seq + 1 else
            max_seq = max_seq + 1
            gens[max_seq] = {}
            for s = min_seq, max_seq - 1 do
              local keep = {}
              for _, y in ipairs(gens[s]) do
                if young[y] then young[y] = false; table.insert(gens[max_seq], 1, y)
                else keep[#keep + 1] = y end
              end
              gens[s] = keep
            end
          end
        else
          local y = table.remove(gens[min_seq])
          if young[y] then young[y] = false; table.insert(gens[max_seq], 1, y)
          else res[y] = false; used = used - 1 end
        end
      end
      res[x] = true; young[x] = true; used = used + 1
      table.insert(gens[max_seq - 1], 1, x)
    end
  end
  return f
end

-- CLOCK-Pro on a circular doubly linked list, as the paper draws it
ref["clock-pro"] = function(r, c)
  local nxt, prv, st, bits = {}, {}, {}, {} -- st: hot cold nonres; bits: ref, test
  local hh, hc, ht -- hands
  local nhot, ncold, nnon, mc, f = 0, 0, 0, c, 0
  local ref_, test = {}, {}
  local function unlink(x)
    local n = nxt[x] ~= x and nxt[x] or nil
    if hh == x then hh = n end
    if hc == x then hc = n end
    if ht == x then ht = n end
    nxt[prv[x]], prv[nxt[x]] = nxt[x], prv[x]
  end
  local function insert_head(x)
    if not hh then nxt[x], prv[x] = x, x; hh, hc, ht = x, x, x; return end
    local p = prv[hh]
    nxt[p], prv[x], nxt[x], prv[hh] = x, p, hh, x
  end
  local function end_test(x)
    test[x] = false
    if mc > 1 then mc = mc - 1 end
    if st[x] == "nonres" then unlink(x); st[x] = nil; nnon = nnon - 1 end
  end
  local function run_hot()
    while true do
      local x = hh; hh = nxt[x]
      if st[x] == "hot" then
        if ref_[x] then ref_[x] = false else
          st[x] = "cold"; ref_[x] = false; test[x] = false; nhot = nhot - 1; ncold = ncold + 1
          return
        end
      elseif test[x] then end_test(x) end
    end
  end
  local function run_test()
    while true do
      local x = ht; ht = nxt[x]
      if st[x] ~= "hot" and test[x] then
        local non = st[x] == "nonres"
        end_test(x)
        if non then return end
      end
    end
  end
  local function make_hot(x)
    st[x] = "hot"; ref_[x] = false; test[x] = false; nhot = nhot + 1
    insert_head(x)
    while nhot > c - mc do run_hot() end
  end
  local function run_cold()
    while true do
      local x = hc; hc = nxt[x]
      if st[x] == "cold" then
        if ref_[x] then
          unlink(x)
          if test[x] then ncold = ncold - 1; make_hot(x)
          else ref_[x] = false; test[x] = true; insert_head(x) end
        else
          ncold = ncold - 1
          if test[x] then
            st[x] = "nonres"; nnon = nnon + 1
            while nnon > c do run_test() end
          else unlink(x); st[x] = nil end
          return
        end
      end
    end
  end
  for _, x in ipairs(r) do
    if st[x] == "hot" or st[x] == "cold" then ref_[x] = true else
      f = f + 1
      while nhot + ncold >= c do run_cold() end
      if st[x] == "nonres" then
        unlink(x); nnon = nnon - 1; mc = math.min(c, mc + 1); make_hot(x)
      else
        st[x] = "cold"; ref_[x] = false; test[x] = true; ncold = ncold + 1
        insert_head(x)
      end
    end
  end
  return f
end

-- ---- random traces ----
local function gen(seed, n, pages, kind)
  math.randomseed(seed)
  local r = {}
  for i = 1, n do
    if kind == 1 then r[i] = math.random(pages)
    elseif kind == 2 then -- a hot set, a loop and noise
      local u = math.random()
      if u < 0.5 then r[i] = math.random(math.max(1, pages // 8))
      elseif u < 0.8 then r[i] = pages + (i % pages)
      else r[i] = math.random(3 * pages) end
    else -- phases
      local phase = (i // 97) % 3
      r[i] = phase * pages + math.random(pages)
    end
  end
  return r
end

local names = {}
for _, p in ipairs(trace.policies()) do names[#names + 1] = p.name end
t.is(#names, 14, "fourteen policies")
for _, name in ipairs(names) do
  t.ok(ref[name], "a reference implementation of " .. name)
end

local traces = {}
for seed = 1, 9 do traces[#traces + 1] = gen(seed, 600, 8 + seed * 3, (seed - 1) % 3 + 1) end
traces[#traces + 1] = anomaly

for _, name in ipairs(names) do
  local bad
  for ti, r in ipairs(traces) do
    local distinct = {}
    for _, x in ipairs(r) do distinct[x] = true end
    local m = 0
    for _ in pairs(distinct) do m = m + 1 end
    for _, c in ipairs { 1, 2, 3, 5, 8, 13, 21, 40 } do
      local got = faults(r, name, c)
      local want = ref[name](r, math.min(c, m))
      if got ~= want then
        bad = bad or string.format("trace %d, %d frames: %d faults, the reference says %d", ti, c, got, want)
      end
    end
  end
  t.ok(not bad, name .. " matches its reference on " .. #traces .. " traces x 8 sizes" .. (bad and (": " .. bad) or ""))
end

-- OPT is never above any other policy
local worst
for ti, r in ipairs(traces) do
  for _, c in ipairs { 1, 3, 7, 16, 30 } do
    local o = faults(r, "opt", c)
    for _, name in ipairs(names) do
      if faults(r, name, c) < o then worst = worst or (name .. " beats OPT on trace " .. ti .. " at " .. c) end
    end
  end
end
t.ok(not worst, "OPT is a lower bound for every policy" .. (worst and (": " .. worst) or ""))

-- misuse
t.error_like(function() trace.simulate({ 1, 2 }, { policy = "lru" }) end, "frames", "frames is required")
t.error_like(function() trace.simulate({ 1, 2 }, { policy = "lruu", frames = 2 }) end, "unknown policy 'lruu'", "unknown policy")
t.error_like(function() trace.simulate({ 1, 2 }, { policy = "lru", frames = 0 }) end, "integer >= 1", "zero frames")
t.error_like(function() trace.simulate({ 1, "x" }, { policy = "lru", frames = 2 }) end, "page 2", "a bad page")
t.error_like(function() trace.simulate({ 1 }, { policy = "lru", frame = 2 }) end, "unknown option 'frame'", "unknown option")
t.is(trace.simulate({}, { policy = "lru", frames = 4 })[1].faults, 0, "an empty trace: no faults")
t.done_testing()
