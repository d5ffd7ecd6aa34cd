-- Enqueue one job under a unique key: while a job holds the key, return that job instead.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, now_ms, check_ids (1: skip an id whose job or result exists, as enqueue.lua),
--   job_id, payload, score, ttl_ms, unique_key, unique_for_ms (hold the key that long after the job
--   ended; 0: release it at once), debounce (1: a waiting holder takes this payload and score),
--   priority (0-9: of the new job; a debounced holder keeps its own), group ('' none; of the new
--   job, kept in its unique spec: a debounced holder stays in its own group)
-- A job holds its key while queued, deferred, running or waiting for a retry, and for unique_for_ms
-- after it ended (unique_lib.lua). With debounce, a holder that waits (not running) gets the payload,
-- the score and the job key's TTL (idle workers are woken if that makes it due sooner); a running
-- one leaves the key to the new job. A new due job is
-- handed to an idle worker as in enqueue.lua. A new job runs the extensions' on_enqueue and
-- on_enqueue_batch hooks (a debounced holder is no new job: no hook).
-- Reply: {state, id, queue}: 1 new (written as job_id), 0 exists (job_id's job or result exists:
-- nothing written), 2 held (job id on queue holds the key), 3 debounced (job id on queue, waiting,
-- took this payload and score); for 0 and 1 only the state.
local prefix, queue, now, check_ids = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local id, payload, score, ttl = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local key, hold_for, debounce = ARGV[9], tonumber(ARGV[10]), ARGV[11] == '1'
local priority, group = tonumber(ARGV[12]), ARGV[13]

local function place(at, job, run_at, p, g)
  -- Queue `job` on `at` at `run_at` with priority `p` or in group `g`: the queue itself (0), else its
  -- ready set if due (behind its priority's jobs) or its delayed set (priority_lib.lua's scores);
  -- a job of a group goes to its group (group_lib.lua).
  if g and g ~= '' then
    aq_group_add(prefix, at, g, job, tonumber(run_at))
  elseif p == 0 then
    redis.call('ZADD', at, run_at, job)
  elseif tonumber(run_at) <= now then
    aq_to_ready(prefix, at, {ready = prefix .. 'ready:' .. at}, {{job, p, false}})
  else
    redis.call('ZADD', prefix .. 'delayed:' .. at, tonumber(run_at) * 16 + p, job)
  end
end

local function waiting_at(at, job, g)
  -- Return when a holder that waits (not running) is due and its priority, taking it out of its
  -- priority set or group `g` (the caller places it again); nil if it is not waiting.
  if g then
    local grouped = redis.call('ZSCORE', aq_group_set(prefix, at, g), job)
    if grouped then
      redis.call('ZREM', aq_group_set(prefix, at, g), job)
      return tonumber(grouped), 0
    end
  end
  local score = redis.call('ZSCORE', at, job)
  if score then return tonumber(score), 0 end
  local ready = redis.call('ZSCORE', prefix .. 'ready:' .. at, job)
  if ready then
    redis.call('ZREM', prefix .. 'ready:' .. at, job)
    return now, 9 - math.floor(tonumber(ready) / AQ_READY_BAND)
  end
  local delayed = redis.call('ZSCORE', prefix .. 'delayed:' .. at, job)
  if delayed then
    redis.call('ZREM', prefix .. 'delayed:' .. at, job)
    return math.floor(tonumber(delayed) / 16), tonumber(delayed) % 16
  end
  return nil
end
local ukey = prefix .. 'unique:' .. key
local key_ttl = tonumber(ttl) + AQ_UQ_MARGIN_MS
if check_ids and redis.call('EXISTS', prefix .. 'job:' .. id, prefix .. 'result:' .. id) > 0 then
  return {0}
end
local holder, ended = aq_unique_holder(prefix, ukey)
if holder then
  local spec = aq_unique_spec(prefix, holder)
  local at = spec and spec.q or queue
  if ended or not debounce then return {2, holder, at} end
  local was, p = nil, 0
  if spec and redis.call('EXISTS', prefix .. 'in-progress:' .. holder) == 0 then
    was, p = waiting_at(at, holder, spec.g)
  end
  if was then
    redis.call('SET', prefix .. 'job:' .. holder, payload, 'PX', ttl)
    place(at, holder, score, p, spec.g)
    redis.call('PEXPIRE', ukey, key_ttl)
    if tonumber(score) < was then aq_wake(prefix, at) end -- due sooner than idle workers wait
    return {3, holder, at}
  end
end -- (a running holder's end leaves the key alone: it no longer holds it)
aq_store_job(prefix, id, payload, ttl, true)
aq_hook_enqueue(prefix, queue, id, payload, now) -- extensions' on_enqueue (the events layer)
aq_unique_hold(prefix, id, ukey, cjson.encode({k = key, q = queue, f = hold_for, g = group ~= '' and group or nil}), key_ttl)
local due = tonumber(score) <= now
local hand = due and aq_hook_may_hand_off(prefix, queue, id, payload)
local handed = hand and aq_handoff(prefix, queue, id, payload, now, priority)
if handed ~= 'claimed' then place(queue, id, score, priority, group) end
if not hand then aq_wake(prefix, queue) end
aq_hook_enqueued(prefix, queue, now)
return {1}
