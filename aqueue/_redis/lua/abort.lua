-- Abort a job. ARGV: prefix, queue, id, now_ms, result_if_queued, ttl_ms.
-- Not yet running: removed from the queue and given `result_if_queued` at once; returns 'aborted'.
-- Running: flagged in the abort set for its worker; returns 'flagged'. Unknown: returns 'missing'.
local prefix, queue, id, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', prefix .. 'in-progress:' .. id) == 1 then
  redis.call('ZADD', prefix .. 'abort', now, id)
  return 'flagged'
end
if not redis.call('ZSCORE', queue, id) then return 'missing' end
redis.call('ZREM', queue, id)
redis.call('DEL', prefix .. 'job:' .. id, prefix .. 'retry:' .. id, prefix .. 'deliveries:' .. id)
redis.call('SET', prefix .. 'result:' .. id, ARGV[5], 'PX', ARGV[6])
redis.call('PUBLISH', prefix .. 'done:' .. id, 'err')
return 'aborted'
