-- Shared helpers, prepended to every aqueue script. Keys are derived from a prefix (ARGV) the way
-- aqueue/_keys.py derives them; keep the two in step.

local function aq_wake(prefix, queue)
  -- Wake every worker blocked on this queue: one LPUSH each, then forget them (they re-register).
  local idle_key = prefix .. 'idle:' .. queue
  local idle = redis.call('SMEMBERS', idle_key)
  for _, worker in ipairs(idle) do
    local wake_key = prefix .. 'wake:' .. worker
    redis.call('LPUSH', wake_key, '1')
    redis.call('PEXPIRE', wake_key, 60000)
  end
  if #idle > 0 then redis.call('DEL', idle_key) end
  return #idle
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
