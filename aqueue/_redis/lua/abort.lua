-- Abort a job.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, job_id, now_ms, result (the encoded result envelope to store if not yet running),
--   ttl_ms (of that result).
-- Reply: 'aborted' (it was waiting: removed from the queue, given `result` at once), 'flagged'
-- (running: flagged in the abort set for its worker) or 'missing' (neither).
local prefix, queue, id, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', prefix .. 'in-progress:' .. id) == 1 then
  redis.call('ZADD', prefix .. 'abort', now, id)
  return 'flagged'
end
-- a waiting job is in the queue (priority 0, or leased and handed back), or one of priority > 0 in
-- its ready or delayed set, or in its group's set, or an extension holds it back (a flow limit)
local removed = redis.call('ZREM', queue, id) + redis.call('ZREM', prefix .. 'ready:' .. queue, id)
  + redis.call('ZREM', prefix .. 'delayed:' .. queue, id)
if removed == 0 and not aq_group_withdraw(prefix, queue, id) and not aq_hook_withdraw(prefix, queue, id) then
  return 'missing'
end
redis.call('DEL', prefix .. 'job:' .. id, prefix .. 'retry:' .. id)
redis.call('HDEL', prefix .. 'deliveries', id)
aq_unique_end(prefix, id) -- unique_lib.lua: the job ended
redis.call('SET', prefix .. 'result:' .. id, ARGV[5], 'PX', ARGV[6])
redis.call('PUBLISH', prefix .. 'done:' .. id, 'err')
return 'aborted'
