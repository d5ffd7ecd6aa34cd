-- Record a finished cron run in the registry, then release a buffered slot if one waits.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, name, now_ms, job_id ('' = only release), kind ('ok' | 'err'), duration_ms ('' = unknown)
-- Reply: 1 if a buffered slot was enqueued, else 0 (also when the job is not registered).
local prefix, name, now, id = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local hkey = prefix .. 'cron:job:' .. name
if redis.call('EXISTS', hkey) == 0 then return 0 end
if id ~= '' then
  redis.call('HSET', hkey, 'last_job_id', id, 'last_outcome', ARGV[5], 'last_duration_ms', ARGV[6],
    'last_finished_ms', ARGV[3])
end
return cron_release(prefix, hkey, now)
