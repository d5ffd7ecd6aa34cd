-- Shared cron helpers (after lib.lua, before a cron_*.lua script). The registry hash of cron job NAME
-- is PREFIX .. 'cron:job:' .. NAME; see aqueue/scheduler/keys.py, keep the two in step.

local function cron_running(prefix, hkey)
  -- Is the latest run of this cron job still queued or in progress? (its job key goes at finish)
  local current = redis.call('HGET', hkey, 'current')
  return current ~= false and redis.call('EXISTS', prefix .. 'job:' .. current) == 1
end

local function cron_decide(policy, running, buffered)
  -- Mirrors aqueue.scheduler.catchup.overlap_decision: 'run', 'skip' or 'buffer'.
  if not running or policy == 'allow' then return 'run' end
  if policy == 'buffer_one' and not buffered then return 'buffer' end
  return 'skip'
end

local function cron_enqueue(prefix, hkey, queue, id, payload, score, ttl, run_ms, now)
  -- Write one run's job (unless its id exists, arq-style) and make it the job's current run; a
  -- written job runs the extensions' on_enqueue and on_enqueue_batch hooks (one run per call, at most
  -- two: cron_claim's and a released buffered one).
  if aq_write_job(prefix, queue, id, payload, score, ttl) == 1 then
    aq_hook_enqueue(prefix, queue, id, payload, now)
    aq_hook_enqueued(prefix, queue, now)
  end
  redis.call('HSET', hkey, 'current', id, 'last_run_ms', run_ms)
  redis.call('HINCRBY', hkey, 'runs', 1)
end

local function cron_release(prefix, hkey, now)
  -- Enqueue the buffered slot (overlap='buffer_one') once the previous run is over. Returns 1 if so.
  local b = redis.call('HMGET', hkey, 'buffered_id', 'buffered_payload', 'buffered_queue',
    'buffered_slot', 'buffered_ttl')
  if not b[1] or cron_running(prefix, hkey) then return 0 end
  cron_enqueue(prefix, hkey, b[3], b[1], b[2], now, tonumber(b[5]), b[4], now)
  redis.call('HDEL', hkey, 'buffered_id', 'buffered_payload', 'buffered_queue', 'buffered_slot',
    'buffered_ttl')
  aq_wake(prefix, b[3])
  return 1
end
