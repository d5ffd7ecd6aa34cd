-- Extend the leases this worker holds. ARGV: prefix, queue, now_ms, lease_ms, then pairs: id, token.
-- Returns a flat list of pairs: id, state where state is 'lost' (claim gone) or 'abort' (asked to abort).
local prefix, queue = ARGV[1], ARGV[2]
local now, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for i = 5, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local ip = prefix .. 'in-progress:' .. id
  if redis.call('GET', ip) == token then
    redis.call('PEXPIRE', ip, lease)
    redis.call('ZADD', queue, 'XX', now + lease, id)
    if redis.call('ZSCORE', prefix .. 'abort', id) then
      out[#out + 1] = id
      out[#out + 1] = 'abort'
    end
  else
    out[#out + 1] = id
    out[#out + 1] = 'lost'
  end
end
return out
