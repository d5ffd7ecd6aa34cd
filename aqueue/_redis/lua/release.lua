-- Hand claimed jobs back to the queue (graceful shutdown). ARGV: prefix, queue, now_ms, then pairs: id, token.
-- The interrupted delivery does not count: neither as a try nor towards dead-lettering.
-- Returns how many were handed back.
-- ARGV[4], ARGV[5]: worker_id, lease_ms — the worker retires: it leaves the idle set, and jobs
-- handed over to it that it never read are handed back too.
local prefix, queue, now = ARGV[1], ARGV[2], ARGV[3]
local worker, lease = ARGV[4], tonumber(ARGV[5])
redis.call('SREM', prefix .. 'idle:' .. queue, worker .. '/' .. lease)
local pairs_ = {}
for i = 6, #ARGV, 2 do pairs_[#pairs_ + 1] = {ARGV[i], ARGV[i + 1]} end
for _, job in ipairs(aq_take_handoffs(prefix, queue, worker, lease, now)) do
  pairs_[#pairs_ + 1] = {job[1], worker .. ':' .. job[2]}
end
local n = 0
for _, pair in ipairs(pairs_) do
  local id, token = pair[1], pair[2]
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
