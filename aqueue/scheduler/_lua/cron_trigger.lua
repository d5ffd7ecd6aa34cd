-- Run a registered cron job now (trigger), whatever its schedule, pause or overlap state.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, name, now_ms, job_id, payload, queue, job_ttl_ms
-- Reply: 1, or 0 if no such job is registered.
local prefix, name, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local hkey = prefix .. 'cron:job:' .. name
if redis.call('EXISTS', hkey) == 0 then return 0 end
cron_enqueue(prefix, hkey, ARGV[6], ARGV[4], ARGV[5], now, tonumber(ARGV[7]), ARGV[3], now)
redis.call('HINCRBY', hkey, 'triggered', 1)
aq_wake(prefix, ARGV[6])
return 1
