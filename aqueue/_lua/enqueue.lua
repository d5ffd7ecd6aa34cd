-- Enqueue a batch of jobs, arq-style: skip an id whose job or result key exists.
-- KEYS: none (derived).  ARGV: prefix, queue, now_ms, then per job: id, payload, score, expires_ms
-- (0: no expiry).
-- A due job is handed straight to an idle worker when there is one. Returns one 1 (written) or 0
-- (duplicate id) per job.
local prefix, queue, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local handing = true
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
    if handing and tonumber(ARGV[i + 2]) <= now then
      handing = aq_handoff(prefix, queue, id, ARGV[i + 1], now)
    end
    out[#out + 1] = 1
  end
end
aq_wake(prefix, queue)
return out
