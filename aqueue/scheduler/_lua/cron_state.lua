-- Pause or resume a registered cron job.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, name, paused (1/0)
-- Reply: 1, or 0 if no such job is registered.
local hkey = ARGV[1] .. 'cron:job:' .. ARGV[2]
if redis.call('EXISTS', hkey) == 0 then return 0 end
if ARGV[3] == '1' then redis.call('HSET', hkey, 'paused', '1') else redis.call('HDEL', hkey, 'paused') end
return 1
