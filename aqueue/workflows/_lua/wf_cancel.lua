-- Cancel a run: queued nodes never start, running ones are flagged to abort.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, run_id, now_ms
-- Reply: 1 if the run was running (it is cancelled now), else 0.
local prefix, run, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('HGET', wf_key(prefix, run, ''), 'state') ~= 'running' then return 0 end
wf_sweep(prefix, run, true, now)
wf_end(prefix, run, 'cancelled', now)
return 1
