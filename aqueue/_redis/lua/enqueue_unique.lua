-- Enqueue one job under a unique key: while a job holds the key, return that job instead.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, now_ms, check_ids (1: skip an id whose job or result exists, as enqueue.lua),
--   job_id, payload, score, ttl_ms, unique_key, unique_for_ms (hold the key that long after the job
--   ended; 0: release it at once), debounce (1: a waiting holder takes this payload and score)
-- A job holds its key while queued, deferred, running or waiting for a retry, and for unique_for_ms
-- after it ended (unique_lib.lua). With debounce, a holder that waits (not running) gets the payload,
-- the score and the job key's TTL (idle workers are woken if that makes it due sooner); a running
-- one leaves the key to the new job. A new due job is
-- handed to an idle worker as in enqueue.lua.
-- Reply: {state, id, queue}: 1 new (written as job_id), 0 exists (job_id's job or result exists:
-- nothing written), 2 held (job id on queue holds the key), 3 debounced (job id on queue, waiting,
-- took this payload and score); for 0 and 1 only the state.
local prefix, queue, now, check_ids = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local id, payload, score, ttl = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local key, hold_for, debounce = ARGV[9], tonumber(ARGV[10]), ARGV[11] == '1'
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
  local was = spec and redis.call('EXISTS', prefix .. 'in-progress:' .. holder) == 0
    and redis.call('ZSCORE', at, holder)
  if was then
    redis.call('SET', prefix .. 'job:' .. holder, payload, 'PX', ttl)
    redis.call('ZADD', at, score, holder)
    redis.call('PEXPIRE', ukey, key_ttl)
    if tonumber(score) < tonumber(was) then aq_wake(prefix, at) end -- due sooner than idle workers wait
    return {3, holder, at}
  end
end -- (a running holder's end leaves the key alone: it no longer holds it)
aq_store_job(prefix, id, payload, ttl, true)
aq_unique_hold(prefix, id, ukey, cjson.encode({k = key, q = queue, f = hold_for}), key_ttl)
local due = tonumber(score) <= now
local hand = due and aq_hook_may_hand_off(prefix, queue, id, payload)
local handed = hand and aq_handoff(prefix, queue, id, payload, now)
if handed ~= 'claimed' then redis.call('ZADD', queue, score, id) end
if not hand then aq_wake(prefix, queue) end
return {1}
