-- Pause or resume a queue.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, paused (1: pause; 0: resume)
-- Pausing adds the queue key to {prefix}paused, which every claim of the queue reads (it then takes
-- nothing), and moves the workers idle on it to {prefix}idle-paused:{queue}, so that no enqueue hands
-- them a job. Resuming removes it and wakes those workers: they claim at once.
-- Reply: 1 if the state changed, 0 if the queue already was so.
local prefix, queue = ARGV[1], ARGV[2]
local paused, idle, parked = prefix .. 'paused', prefix .. 'idle:' .. queue, prefix .. 'idle-paused:' .. queue
if ARGV[3] == '1' then
  local changed = redis.call('SADD', paused, queue)
  if redis.call('EXISTS', idle) == 1 then
    redis.call('SUNIONSTORE', parked, parked, idle)
    redis.call('DEL', idle)
  end
  return changed
end
local changed = redis.call('SREM', paused, queue)
for _, member in ipairs(redis.call('SMEMBERS', parked)) do
  local wake_key = prefix .. 'wake:' .. aq_parse_idle(member)
  redis.call('LPUSH', wake_key, '1')
  redis.call('PEXPIRE', wake_key, 60000)
end
redis.call('DEL', parked)
aq_wake(prefix, queue)
return changed
