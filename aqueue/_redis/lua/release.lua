-- A worker retires (graceful shutdown): it leaves the idle set and hands its claimed jobs back to
-- the queue, due now, together with jobs handed over to it that it never read.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, now_ms, worker_id, lease_ms, then per held job 2 fields: job_id, token
-- Only jobs whose token still holds go back; the interrupted delivery counts neither as a try nor
-- towards dead-lettering; the extensions' on_attempt_end hooks run for each (aq_hook_attempt_end).
-- Reply: how many jobs were handed back.
local prefix, queue, now = ARGV[1], ARGV[2], ARGV[3]
local worker, lease = ARGV[4], tonumber(ARGV[5])
local member = worker .. '/' .. ARGV[5]
for _, idle in ipairs({'idle:', 'idle-paused:'}) do
  redis.call('SREM', prefix .. idle .. queue, member, member .. '/m')
end
local held = {}
for i = 6, #ARGV, 2 do held[#held + 1] = {ARGV[i], ARGV[i + 1]} end
for _, job in ipairs(aq_take_handoffs(prefix, queue, worker, lease, now)) do
  held[#held + 1] = {job[1], worker .. ':' .. job[2], job[3]} -- job[3]: its queue, if not `queue`
end
local n = 0
local holding = aq_hook_holding(prefix)
for _, pair in ipairs(held) do
  local id, token = pair[1], pair[2]
  local ip = prefix .. 'in-progress:' .. id
  if redis.call('GET', ip) == token then
    redis.call('DEL', ip)
    aq_undeliver(prefix, id)
    if holding then aq_hook_attempt_end(prefix, pair[3] or queue, id) end
    redis.call('ZADD', pair[3] or queue, now, id)
    n = n + 1
  end
end
if n > 0 then
  aq_wake(prefix, queue)
  for _, pair in ipairs(held) do if pair[3] then aq_wake(prefix, pair[3]) end end
end
return n
