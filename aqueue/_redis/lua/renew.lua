-- Extend the leases this worker holds.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, now_ms, lease_ms, then per held job 2 fields: job_id, token
-- A lease holds while the job's in-progress key holds the token: it is extended by lease_ms (the key's
-- expiry and the job's score together), and the extensions' on_renew hooks run (aq_hook_renew).
-- Reply: a flat list, 2 fields per job that needs action: id, 'lost' (the claim is gone) or 'abort'
-- (asked to abort).
local prefix, queue = ARGV[1], ARGV[2]
local now, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local abort = prefix .. 'abort'
local aborts = redis.call('EXISTS', abort) == 1
local lease_end = tostring(now + lease)
local out, leased = {}, {}
local holding = aq_hook_holding(prefix)
for i = 5, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local ip = prefix .. 'in-progress:' .. id
  if redis.call('GET', ip) == token then
    redis.call('PEXPIRE', ip, ARGV[4])
    leased[#leased + 1] = lease_end
    leased[#leased + 1] = id
    if holding then aq_hook_renew(prefix, queue, id, lease_end) end
    if aborts and redis.call('ZSCORE', abort, id) then
      out[#out + 1] = id
      out[#out + 1] = 'abort'
    end
  else
    out[#out + 1] = id
    out[#out + 1] = 'lost'
  end
end
aq_batched('ZADD', {queue, 'XX'}, leased)
return out
