-- Put dead-lettered jobs back on their queues, due now, with a fresh delivery count.
-- ARGV: prefix, now_ms, ttl_ms, ids... Returns how many were requeued.
local prefix, now, ttl = ARGV[1], ARGV[2], ARGV[3]
local n = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local dkey = prefix .. 'dead:' .. id
  local payload, queue = unpack(redis.call('HMGET', dkey, 'payload', 'queue'))
  if payload and payload ~= '' and queue then
    redis.call('SET', prefix .. 'job:' .. id, payload, 'PX', ttl)
    redis.call('ZADD', queue, now, id)
    redis.call('DEL', dkey, prefix .. 'deliveries:' .. id, prefix .. 'retry:' .. id)
    redis.call('ZREM', prefix .. 'dead', id)
    aq_wake(prefix, queue)
    n = n + 1
  end
end
return n
