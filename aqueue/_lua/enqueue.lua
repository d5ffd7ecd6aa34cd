-- Enqueue a batch of jobs, arq-style: skip an id whose job or result key exists.
-- KEYS: none (derived).  ARGV: prefix, queue, now_ms, then per job: id, payload, score, expires_ms
-- (0: no expiry).
-- Returns one 1 (written) or 0 (duplicate id) per job.
local prefix, queue = ARGV[1], ARGV[2]
local out = {}
for i = 4, #ARGV, 4 do
  local id = ARGV[i]
  local jkey = prefix .. 'job:' .. id
  if redis.call('EXISTS', jkey, prefix .. 'result:' .. id) > 0 then
    out[#out + 1] = 0
  else
    if tonumber(ARGV[i + 3]) > 0 then
      redis.call('SET', jkey, ARGV[i + 1], 'PX', ARGV[i + 3])
    else
      redis.call('SET', jkey, ARGV[i + 1])  -- no expiry (workflow nodes live as long as their run)
    end
    redis.call('ZADD', queue, ARGV[i + 2], id)
    out[#out + 1] = 1
  end
end
aq_wake(prefix, queue)
return out
