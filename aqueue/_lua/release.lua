-- Hand claimed jobs back to the queue (graceful shutdown). ARGV: prefix, queue, now_ms, then pairs: id, token.
-- The interrupted delivery does not count: neither as a try nor towards dead-lettering.
-- Returns how many were handed back.
local prefix, queue, now = ARGV[1], ARGV[2], ARGV[3]
local n = 0
for i = 4, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local ip = prefix .. 'in-progress:' .. id
  if redis.call('GET', ip) == token then
    redis.call('DEL', ip)
    redis.call('RPOP', prefix .. 'deliveries:' .. id)
    if tonumber(redis.call('GET', prefix .. 'retry:' .. id) or '0') > 0 then
      redis.call('DECR', prefix .. 'retry:' .. id)
    end
    redis.call('ZADD', queue, now, id)
    n = n + 1
  end
end
if n > 0 then aq_wake(prefix, queue) end
return n
