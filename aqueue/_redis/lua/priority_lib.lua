-- Priorities and paused queues in the claim (claim.lua), after lib.lua. None of it runs for a queue
-- without jobs of priority > 0 and while no queue is paused: one EXISTS tells (aq_flow).
--
-- A job of priority p (1-9) waits in one of two sorted sets of its queue instead of the queue itself
-- (a plain arq worker does not see it there):
--   {prefix}ready:{queue}    due:      (9 - p) * 2^49 + 2^48 +/- seq   (highest p first, then FIFO;
--                                       a job whose claim lapsed goes before the others: - seq)
--   {prefix}delayed:{queue}  deferred: run-at ms * 16 + p     (moved to ready when due)
-- Once claimed it is in the queue at its lease end like any claimed job (so renewals, finishes and
-- lapsed leases work as for priority 0), and {prefix}leased:{queue} keeps its priority: next check
-- ms * 16 + p. At that check a job still held is checked again when its claim would lapse; one whose
-- claim lapsed (its worker died: at the front of its priority) or whose retry is due (at the back)
-- goes back to ready with its priority; one that left the queue (finished) is forgotten.

local AQ_READY_BAND = 562949953421312 -- 2^49: a priority's band of FIFO numbers in the ready set
local AQ_READY_MID = 281474976710656 -- 2^48: new jobs count up from the middle, lapsed ones down
local AQ_PROMOTE = 1000 -- due entries moved per claim call and set (the rest at the next call)

local function aq_flow(prefix, queue)
  -- Return the priority and pause keys of `queue` with their state, or nil when none exists (the
  -- plain path: no paused queue anywhere, no job of priority > 0 in this queue). `priority`: the
  -- queue has priority sets; `is_paused`: it is paused.
  local f = {paused = prefix .. 'paused', ready = prefix .. 'ready:' .. queue,
    delayed = prefix .. 'delayed:' .. queue, leased = prefix .. 'leased:' .. queue}
  local found = redis.call('EXISTS', f.paused, f.ready, f.delayed, f.leased)
  if found == 0 then return nil end
  f.is_paused = redis.call('SISMEMBER', f.paused, queue) == 1
  f.priority = found > 1 or redis.call('EXISTS', f.paused) == 0
  return f
end

local function aq_to_ready(prefix, queue, f, entries)
  -- Add `entries` ({id, priority, front} each, in order) to the ready set: behind the jobs of their
  -- priority there, or (front true) before them.
  if #entries == 0 then return end
  local seq = redis.call('INCRBY', prefix .. 'ready-seq:' .. queue, #entries) - #entries
  local args = {}
  for n, e in ipairs(entries) do
    args[#args + 1] = (9 - e[2]) * AQ_READY_BAND + AQ_READY_MID + (e[3] and -(seq + n) or seq + n)
    args[#args + 1] = e[1]
  end
  aq_batched('ZADD', {f.ready}, args)
end

local function aq_due(key, now)
  -- Return the entries of a set scored `ms * 16 + p` that are due at `now`: {id, p, ms} each.
  local rows = redis.call('ZRANGEBYSCORE', key, '-inf', now * 16 + 15, 'WITHSCORES', 'LIMIT', 0, AQ_PROMOTE)
  local due = {}
  for i = 1, #rows, 2 do
    local score = tonumber(rows[i + 1])
    due[#due + 1] = {rows[i], score % 16, math.floor(score / 16)}
  end
  return due
end

local function aq_check_leased(prefix, queue, f, e, now, lease, ready, later)
  -- One due {prefix}leased entry `e`: still held (check again), retried later (check then), back to
  -- ready (lapsed, or its retry is due) or gone (forget it).
  local id, p = e[1], e[2]
  local ttl = redis.call('PTTL', prefix .. 'in-progress:' .. id)
  if ttl == -1 or ttl > 0 then
    later[#later + 1] = (now + (ttl > 0 and ttl or lease)) * 16 + p
    later[#later + 1] = id
    return
  end
  local score = redis.call('ZSCORE', queue, id)
  if score and tonumber(score) > now then
    later[#later + 1] = tonumber(score) * 16 + p
    later[#later + 1] = id
  elseif score then -- a lapsed claim left its delivery in the history; a retry cleared it
    redis.call('ZREM', queue, id)
    redis.call('ZREM', f.leased, id)
    ready[#ready + 1] = {id, p, redis.call('HEXISTS', prefix .. 'deliveries', id) == 1}
  else
    redis.call('ZREM', f.leased, id)
  end
end

local function aq_promote(prefix, queue, f, now, lease)
  -- Move due deferred jobs and lapsed or retried claimed jobs to the ready set, with their priority.
  -- Returns true if more were due than one call moves (the caller then leaves priority 0 alone).
  local delayed = aq_due(f.delayed, now)
  local ready, later, ids = {}, {}, {}
  for _, e in ipairs(delayed) do
    ready[#ready + 1] = {e[1], e[2], false}
    ids[#ids + 1] = e[1]
  end
  aq_batched('ZREM', {f.delayed}, ids)
  local leased = aq_due(f.leased, now)
  for _, e in ipairs(leased) do aq_check_leased(prefix, queue, f, e, now, lease, ready, later) end
  aq_batched('ZADD', {f.leased}, later)
  aq_to_ready(prefix, queue, f, ready)
  return #delayed == AQ_PROMOTE or #leased == AQ_PROMOTE
end

local function aq_ready_ids(f, limit)
  -- Return the first `limit` ready jobs, highest priority first: {id, p} each.
  local rows = redis.call('ZRANGE', f.ready, 0, limit - 1, 'WITHSCORES')
  local ids = {}
  for i = 1, #rows, 2 do
    ids[#ids + 1] = {rows[i], 9 - math.floor(tonumber(rows[i + 1]) / AQ_READY_BAND)}
  end
  return ids
end

local function aq_next_deferred(f)
  -- Return when the earliest deferred job of priority > 0 is due (ms), or nil.
  local head = redis.call('ZRANGE', f.delayed, 0, 0, 'WITHSCORES')
  return head[2] and math.floor(tonumber(head[2]) / 16) or nil
end
