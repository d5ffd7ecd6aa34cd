-- Claim the due slots of one cron job and enqueue their runs, atomically.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, name, queue, now_ms, seen_last ('' = never ran), dropped, next_ms ('' = none),
--   claim_ttl_ms, overlap (policy), job_ttl_extra_ms, owner, then per slot 3 fields:
--   slot_ms, job_id, payload
-- A slot is claimed once: its claim key is SET NX, and slots at or before the job's last claimed
-- slot are refused. A claimed slot is then run, skipped or buffered (overlap), or counted as missed
-- while the job is paused.
-- Reply: one status per slot: run | skip | buffer | paused | taken.
local prefix, name, queue = ARGV[1], ARGV[2], ARGV[3]
local now, seen, dropped = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local next_ms, claim_ttl, overlap = ARGV[7], ARGV[8], ARGV[9]
local ttl_extra, owner = tonumber(ARGV[10]), ARGV[11]
local hkey = prefix .. 'cron:job:' .. name
local stored = redis.call('HGET', hkey, 'last_slot')
local last = tonumber(stored or '')
local paused = redis.call('HGET', hkey, 'paused') == '1'
cron_release(prefix, hkey, now)
local out, claimed, woke = {}, 0, false
for i = 12, #ARGV, 3 do
  local slot, id, payload = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2]
  local status = 'taken'
  local ckey = prefix .. 'cron:slot:' .. name .. ':' .. ARGV[i]
  if (last == nil or slot > last) and redis.call('SET', ckey, owner, 'NX', 'PX', claim_ttl) then
    last, claimed = slot, claimed + 1
    redis.call('HSET', hkey, 'last_slot', ARGV[i])
    if paused then
      status = 'paused'
      redis.call('HINCRBY', hkey, 'missed', 1)
    else
      local buffered = redis.call('HEXISTS', hkey, 'buffered_id') == 1
      status = cron_decide(overlap, cron_running(prefix, hkey), buffered)
      if status == 'run' then
        cron_enqueue(prefix, hkey, queue, id, payload, slot, math.max(slot - now, 0) + ttl_extra, slot, now)
        woke = true
      elseif status == 'buffer' then
        redis.call('HSET', hkey, 'buffered_id', id, 'buffered_payload', payload, 'buffered_queue', queue,
          'buffered_slot', slot, 'buffered_ttl', ttl_extra)
      else
        redis.call('HINCRBY', hkey, 'skipped', 1)
      end
    end
  end
  out[#out + 1] = status
end
if claimed > 0 and (stored or '') == seen and dropped > 0 then
  redis.call('HINCRBY', hkey, 'missed', dropped)
end
if next_ms ~= '' then redis.call('HSET', hkey, 'next_run_ms', next_ms) end
if woke then aq_wake(prefix, queue) end
return out
