-- (after limits_hand_off.lua) Global concurrency and rate limits per task, and per group of a task (aqueue/limits/): admission
-- rules the claim script runs through the extension hooks (aqueue/_redis/hooks.py).
--
-- Keys (derived from the prefix, like the core's):
--   {prefix}limits             hash: task -> its limits, "c rc rms gc grc grms" (0: none), written
--                              by the workers that run it when they start
--   {prefix}slots:{scope}      zset: job id -> lease end (ms): the attempts running in the scope;
--                              one whose lease lapsed (its worker died or froze) no longer counts
--   {prefix}starts:{scope}     zset: "id:try" -> claim time (ms, Redis's clock): starts in the window
--   {prefix}held               hash: job id -> the scopes its running attempt holds a slot of
--   {prefix}wait:{queue}\n{scope}  zset: job id -> arrival order: jobs the scope held back
--   {prefix}blocked:{queue}    zset: scope -> when the scope's held-back jobs may run again (ms)
--   {prefix}waiting            hash: job id -> "why\n{queue}\n{scope}" (why: concurrency | rate)
--   {prefix}wait-seq           counter: arrival order of held-back jobs
-- A scope is "t\n{task}" (the task's limits) or "g\n{task}\n{group}" (its per-group limits).
-- The rate limit is a sliding-window log: a job is admitted while fewer than rc starts were claimed
-- in the last rms milliseconds, so no window of rms ms (anywhere in time) holds more than rc starts.
-- A held-back job leaves its queue (it costs the claim nothing while it waits) and is given back, in
-- arrival order, when its scope may run again: at the rate window's reopening, or as soon as a slot
-- of its scope frees (on_attempt_end marks the scope due and wakes the queue's idle workers), or at
-- the earliest lease end of the slots' holders (a holder that died frees its slot then).

local lim = nil -- this call's state, built on first use (lim_state)
local lim_held = nil -- whether any attempt holds a slot (checked once per call)
local lim_woken = {}

local function lim_state(prefix)
  if lim == nil then
    lim = {on = redis.call('EXISTS', prefix .. 'limits') == 1, specs = {}, scopes = {}, pending = {},
      given = {}}
    if lim.on then -- rate windows run on Redis's clock: one clock for every worker
      local t = redis.call('TIME')
      lim.clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
  end
  return lim
end

local function lim_spec(prefix, name)
  local spec = lim.specs[name]
  if spec == nil then
    local text = redis.call('HGET', prefix .. 'limits', name)
    spec = false
    if text then
      local n = {}
      for v in string.gmatch(text, '%S+') do n[#n + 1] = tonumber(v) end
      spec = {c = n[1], rc = n[2], rms = n[3], gc = n[4], grc = n[5], grms = n[6]}
    end
    lim.specs[name] = spec
  end
  return spec
end

local function lim_scope(prefix, key, now, rms)
  -- The state of one scope in this call: its slots and starts keys, and how many each holds now
  -- (lapsed slots and starts older than the window are dropped the first time a call looks).
  local st = lim.scopes[key]
  if st then return st end
  st = {slots = prefix .. 'slots:' .. key, starts = prefix .. 'starts:' .. key}
  redis.call('ZREMRANGEBYSCORE', st.slots, '-inf', now)
  st.running = redis.call('ZCARD', st.slots)
  st.started = 0
  if rms > 0 then
    redis.call('ZREMRANGEBYSCORE', st.starts, '-inf', lim.clock - rms)
    st.started = redis.call('ZCARD', st.starts)
  end
  lim.scopes[key] = st
  return st
end

local function lim_scopes(prefix, id)
  -- Return the limit scopes of job `id` ({key, concurrency, rate count, rate ms} each), or nil.
  local payload = redis.call('GET', prefix .. 'job:' .. id)
  if not payload then return nil end
  local name, data = lim_task(payload)
  local spec = name and lim_spec(prefix, name)
  if not spec then return nil end
  local scopes = {}
  if spec.c > 0 or spec.rc > 0 then scopes[1] = {'t\n' .. name, spec.c, spec.rc, spec.rms} end
  if spec.gc > 0 or spec.grc > 0 then
    if not data then
      local ok, decoded = pcall(cjson.decode, payload)
      data = ok and decoded or nil
    end
    local group = type(data) == 'table' and data.g
    if type(group) == 'string' then
      scopes[#scopes + 1] = {'g\n' .. name .. '\n' .. group, spec.gc, spec.grc, spec.grms}
    end
  end
  return scopes
end

local function lim_said(scope, why, count, ms)
  -- Return the limit in words: 'concurrency=5', 'rate_limit=100/1000ms', 'group_…=… group=g'.
  local kind, group = string.match(scope, '^(%a)\n[^\n]*\n?(.*)$')
  local text = why == 'rate' and ('rate_limit=' .. count .. '/' .. ms .. 'ms') or ('concurrency=' .. count)
  if kind == 'g' then return 'group_' .. text .. ' group=' .. group end
  return text
end

local function lim_hold_back(prefix, queue, id, scope, why, next_at, limit, now)
  -- Keep job `id` waiting on `scope` (in arrival order; a job given back keeps its place). A new
  -- hold runs the extensions' on_wait hooks (the events layer's `waiting`).
  local member = queue .. '\n' .. scope
  local wait = prefix .. 'wait:' .. member
  local given = lim.given[id]
  if not given then aq_hook_wait(prefix, queue, id, string.match(scope, '^%a\n([^\n]*)'), why, limit, now) end
  local order = given and given[2] or redis.call('INCR', prefix .. 'wait-seq')
  redis.call('ZADD', wait, order, id)
  redis.call('HSET', prefix .. 'waiting', id, why .. '\n' .. member)
  redis.call('ZADD', prefix .. 'blocked:' .. queue, next_at, scope)
end

local function lim_admitting(prefix)
  return lim_state(prefix).on
end

local function lim_holding(prefix)
  if lim_held == nil then lim_held = redis.call('EXISTS', prefix .. 'held') == 1 end
  return lim_held
end

local function lim_admit(prefix, queue, id, now)
  -- Admit job `id` if every scope it is in has a free slot and room in its rate window.
  local L = lim_state(prefix)
  if not L.on then return true end
  local scopes = lim_scopes(prefix, id)
  if not scopes then return true end
  for _, sc in ipairs(scopes) do
    local st = lim_scope(prefix, sc[1], now, sc[4])
    if sc[2] > 0 and st.running >= sc[2] then
      local first = redis.call('ZRANGE', st.slots, 0, 0, 'WITHSCORES')[2]
      lim_hold_back(prefix, queue, id, sc[1], 'concurrency', tonumber(first) or now + 1000,
        lim_said(sc[1], 'concurrency', sc[2]), now)
      return false
    end
    if sc[3] > 0 and st.started >= sc[3] then
      local first = redis.call('ZRANGE', st.starts, 0, 0, 'WITHSCORES')[2]
      local reopen = (tonumber(first) or lim.clock) + sc[4] -- on Redis's clock; the worker's is `now`
      lim_hold_back(prefix, queue, id, sc[1], 'rate', now + math.max(reopen - lim.clock, 1),
        lim_said(sc[1], 'rate', sc[3], sc[4]), now)
      return false
    end
  end
  L.pending[id] = scopes
  return true
end

local function lim_claimed(prefix, queue, id, tries, lease_end, now)
  -- An admitted job was claimed: it takes a slot and a start in each of its scopes.
  if not lim or not lim.on then return end
  if lim.given[id] then redis.call('HDEL', prefix .. 'waiting', id) end
  local scopes = lim.pending[id]
  if not scopes then return end
  local held = {}
  for _, sc in ipairs(scopes) do
    local st = lim.scopes[sc[1]]
    if sc[2] > 0 then
      redis.call('ZADD', st.slots, lease_end, id)
      st.running = st.running + 1
      held[#held + 1] = sc[1]
    end
    if sc[3] > 0 then
      redis.call('ZADD', st.starts, lim.clock, id .. ':' .. tries)
      redis.call('PEXPIRE', st.starts, sc[4]) -- an idle scope's log goes once its window has passed
      st.started = st.started + 1
    end
  end
  if #held > 0 then redis.call('HSET', prefix .. 'held', id, table.concat(held, '\r')) end
end

local function lim_waiting(prefix, queue, now, room)
  -- Give back (at most `room`) held-back jobs of `queue` whose scope may run again, oldest first.
  local L = lim_state(prefix)
  local ids = {}
  if not L.on or room <= 0 then return ids end
  local blocked = prefix .. 'blocked:' .. queue
  for _, scope in ipairs(redis.call('ZRANGEBYSCORE', blocked, '-inf', now, 'LIMIT', 0, 100)) do
    if #ids >= room then break end
    local wait, rows = lim_take(prefix, queue, scope, room - #ids)
    for i = 1, #rows, 2 do
      ids[#ids + 1] = rows[i]
      L.given[rows[i]] = {wait, rows[i + 1]}
    end
  end
  return ids
end

local function lim_next_check(prefix, queue)
  -- When the first of `queue`'s held-back scopes may run again (nil: none waits).
  local L = lim_state(prefix)
  if not L.on then return nil end
  return tonumber(redis.call('ZRANGE', prefix .. 'blocked:' .. queue, 0, 0, 'WITHSCORES')[2])
end

local function lim_slots_of(prefix, id)
  return lim_holding(prefix) and redis.call('HGET', prefix .. 'held', id) or nil
end

local function lim_free(prefix, id)
  -- Free the slots job `id`'s attempt holds; return their scopes (nil: it held none).
  local held = lim_slots_of(prefix, id)
  if not held then return nil end
  redis.call('HDEL', prefix .. 'held', id)
  local scopes = {}
  for scope in string.gmatch(held, '[^\r]+') do
    redis.call('ZREM', prefix .. 'slots:' .. scope, id)
    scopes[#scopes + 1] = scope
  end
  return scopes
end

local function lim_renew(prefix, queue, id, lease_end)
  -- A lease was extended: so are its slots.
  local held = lim_slots_of(prefix, id)
  if not held then return end
  for scope in string.gmatch(held, '[^\r]+') do
    redis.call('ZADD', prefix .. 'slots:' .. scope, 'XX', lease_end, id)
  end
end

local function lim_ended(prefix, queue, id)
  -- An attempt ended: its slots free, and jobs of `queue` held back on those scopes may run now.
  local scopes = lim_free(prefix, id)
  if not scopes then return end
  local blocked = prefix .. 'blocked:' .. queue
  for _, scope in ipairs(scopes) do
    if redis.call('ZSCORE', blocked, scope) then
      redis.call('ZADD', blocked, 0, scope)
      if not lim_woken[queue] then
        lim_woken[queue] = true
        aq_wake(prefix, queue)
      end
    end
  end
end

local function lim_dead(prefix, id, max_deliveries, now, worker)
  -- A dead-lettered job holds no slot (its last attempt's lease lapsed).
  lim_free(prefix, id)
end
