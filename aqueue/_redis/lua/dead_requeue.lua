-- Put dead-lettered jobs back on their queues, due now, with a fresh delivery count (and their unique
-- key, if it is free).
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, now_ms, ttl_ms (of the job keys written back), then per job: job_id
-- Each job put back runs the extensions' on_enqueue hooks, the call their on_enqueue_batch.
-- Reply: how many were requeued (an id without a dead letter, or whose payload is gone, is skipped).
local prefix, now, ttl = ARGV[1], ARGV[2], ARGV[3]
local n = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local dkey = prefix .. 'dead:' .. id
  local payload, queue, unique = unpack(redis.call('HMGET', dkey, 'payload', 'queue', 'unique'))
  if payload and payload ~= '' and queue then
    redis.call('SET', prefix .. 'job:' .. id, payload, 'PX', ttl)
    redis.call('ZADD', queue, now, id)
    redis.call('DEL', dkey, prefix .. 'retry:' .. id)
    redis.call('HDEL', prefix .. 'deliveries', id)
    redis.call('ZREM', prefix .. 'dead', id)
    if unique then aq_unique_requeued(prefix, id, unique, ttl) end -- unique_lib.lua
    aq_wake(prefix, queue)
    aq_hook_enqueue(prefix, queue, id, payload, now) -- extensions' on_enqueue (the events layer)
    n = n + 1
  end
end
aq_hook_enqueued(prefix, '', now)
return n
