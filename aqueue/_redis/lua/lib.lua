-- Shared helpers, prepended to every aqueue script. Keys are derived from a prefix (ARGV) the way
-- aqueue/_keys.py derives them; keep the two in step.

-- Idle workers register in {prefix}idle:{queue} as "worker_id/lease_ms" and block on
-- {prefix}wake:{worker_id}, which receives '1' (look again) or a handed-over job:
-- 'J' .. try .. ':' .. #id .. ':' .. id .. payload, already claimed for that worker.

local function aq_parse_idle(member)
  local worker, lease = string.match(member, '^(.*)/(%d+)$')
  return worker or member, tonumber(lease)
end

local function aq_wake(prefix, queue)
  -- Wake every worker blocked on this queue: one LPUSH each, then forget them (they re-register).
  local idle_key = prefix .. 'idle:' .. queue
  local idle = redis.call('SMEMBERS', idle_key)
  for _, member in ipairs(idle) do
    local wake_key = prefix .. 'wake:' .. aq_parse_idle(member)
    redis.call('LPUSH', wake_key, '1')
    redis.call('PEXPIRE', wake_key, 60000)
  end
  if #idle > 0 then redis.call('DEL', idle_key) end
  return #idle
end

local function aq_store_job(prefix, id, payload, ttl_ms, fresh)
  -- Write a job's payload, arq-style: not if its job or result key exists (returns 0), else 1.
  -- ttl_ms nil or <= 0: no expiry (a workflow node's job lives as long as its run).
  -- fresh: the id is a new random one, so the existence check is skipped.
  local jkey = prefix .. 'job:' .. id
  if not fresh and redis.call('EXISTS', jkey, prefix .. 'result:' .. id) > 0 then return 0 end
  if ttl_ms and tonumber(ttl_ms) > 0 then
    redis.call('SET', jkey, payload, 'PX', ttl_ms)
  else
    redis.call('SET', jkey, payload)
  end
  return 1
end

local function aq_write_job(prefix, queue, id, payload, score, ttl_ms)
  -- Write a job (aq_store_job) and queue it at `score`; 0 if the id exists.
  if aq_store_job(prefix, id, payload, ttl_ms) == 0 then return 0 end
  redis.call('ZADD', queue, score, id)
  return 1
end

local function aq_claim_for(prefix, queue, id, worker, lease, now)
  -- Claim job `id` for `worker` (queueing it at its lease end): token, lease, try and delivery
  -- history. Returns the try. A first try costs one call (SET NX), not INCR + EXPIRE.
  local rkey = prefix .. 'retry:' .. id
  local tries = 1
  if not redis.call('SET', rkey, 1, 'EX', 88400, 'NX') then
    tries = redis.call('INCR', rkey)
    redis.call('EXPIRE', rkey, 88400)
  end
  redis.call('SET', prefix .. 'in-progress:' .. id, worker .. ':' .. tries, 'PX', lease)
  redis.call('ZADD', queue, now + lease, id)
  redis.call('RPUSH', prefix .. 'deliveries:' .. id, worker .. '@' .. now)
  redis.call('PEXPIRE', prefix .. 'deliveries:' .. id, 86400000)
  return tries
end

local function aq_handoff(prefix, queue, id, payload, now)
  -- Give a due, stored but not yet queued job straight to one idle worker (no claim round trip).
  -- Returns false if no worker is idle, 'woken' if one was woken but the job was not claimed for it
  -- (the caller still queues it), 'claimed' if it was claimed for that worker (and so queued).
  local member = redis.call('SPOP', prefix .. 'idle:' .. queue)
  if not member then return false end
  local worker, lease = aq_parse_idle(member)
  local wake_key = prefix .. 'wake:' .. worker
  local state = 'woken'
  if lease then
    local tries = aq_claim_for(prefix, queue, id, worker, lease, now)
    redis.call('LPUSH', wake_key, 'J' .. tries .. ':' .. #id .. ':' .. id .. payload)
    state = 'claimed'
  else
    redis.call('LPUSH', wake_key, '1')
  end
  redis.call('PEXPIRE', wake_key, 60000)
  return state
end

local function aq_parse_handoff(message)
  -- Return id, try of a handed-over job message, or nil for a plain wake-up.
  local tries, idlen, rest = string.match(message, '^J(%d+):(%d+):(.*)$')
  if not tries then return nil end
  return string.sub(rest, 1, tonumber(idlen)), tonumber(tries)
end

local function aq_take_handoffs(prefix, queue, worker, lease, now)
  -- Drain this worker's wake list; return the handed-over jobs it still holds (leases refreshed).
  local wake_key = prefix .. 'wake:' .. worker
  local messages = redis.call('LRANGE', wake_key, 0, -1)
  local held = {}
  if #messages > 0 then redis.call('DEL', wake_key) end
  for _, message in ipairs(messages) do
    local id, tries = aq_parse_handoff(message)
    local ip = id and (prefix .. 'in-progress:' .. id)
    if ip and redis.call('GET', ip) == worker .. ':' .. tries then
      redis.call('PEXPIRE', ip, lease)
      redis.call('ZADD', queue, 'XX', now + lease, id)
      held[#held + 1] = {id, tries}
    end
  end
  return held
end

local function aq_finish(prefix, queue, id, token, kind, result, ttl_ms, retry_score)
  -- Record one attempt's outcome if `token` still holds the job's claim. Returns 1, or 0 if fenced.
  -- kind: 'ok' | 'err' (final, writes the result) | 'retry' (back to the queue at retry_score).
  local ip = prefix .. 'in-progress:' .. id
  if redis.call('GET', ip) ~= token then return 0 end
  redis.call('DEL', ip, prefix .. 'deliveries:' .. id)
  if kind == 'retry' then
    redis.call('ZADD', queue, retry_score, id)
    return 1
  end
  if result ~= '' then
    local rkey = prefix .. 'result:' .. id
    if ttl_ms > 0 then
      redis.call('SET', rkey, result, 'PX', ttl_ms)
    elseif ttl_ms < 0 then
      redis.call('SET', rkey, result)
    end
  end
  redis.call('DEL', prefix .. 'job:' .. id, prefix .. 'retry:' .. id)
  redis.call('ZREM', queue, id)
  redis.call('ZREM', prefix .. 'abort', id)
  redis.call('PUBLISH', prefix .. 'done:' .. id, kind)
  return 1
end
