-- Claim up to `limit` due jobs in one round trip.
-- ARGV: prefix, queue, now_ms, limit, lease_ms, worker_id, register_idle (0/1), max_deliveries (0 = off)
-- A claim: in-progress key := token (expires with the lease), score := lease end (so a dead worker's
-- job becomes due again when its lease lapses), retry counter += 1, delivery appended to history.
-- Jobs handed over to this worker by enqueue.lua but not yet read are taken first.
-- Returns a flat list: per job id, payload ('' if expired), original score, try, aborted (0/1),
-- then, as the last element, the earliest score still in the queue ('' if empty).
local prefix, queue = ARGV[1], ARGV[2]
local now, limit, lease = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local worker, register_idle, max_deliveries = ARGV[6], ARGV[7], tonumber(ARGV[8])
local out, claimed, dead = {}, 0, 0
redis.call('SREM', prefix .. 'idle:' .. queue, worker .. '/' .. lease)
for _, job in ipairs(aq_take_handoffs(prefix, queue, worker, lease, now)) do
  local id, tries = job[1], job[2]
  for _, v in ipairs({id, redis.call('GET', prefix .. 'job:' .. id) or '', now, tries, 0}) do
    out[#out + 1] = v
  end
  claimed = claimed + 1
end
local ids = redis.call('ZRANGEBYSCORE', queue, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit + 10)
for i = 1, #ids, 2 do
  if claimed >= limit then break end
  local id, score = ids[i], ids[i + 1]
  local ip = prefix .. 'in-progress:' .. id
  local hist = prefix .. 'deliveries:' .. id
  local held_ms = redis.call('PTTL', ip) -- -2: no claim; -1: a claim without expiry
  if held_ms ~= -2 then
    -- still claimed (a lease lapsing this very moment, or a plain arq worker's in-progress key):
    -- look again when that claim lapses, not a whole lease of ours later
    redis.call('ZADD', queue, 'XX', now + (held_ms >= 0 and math.max(held_ms, 1) or lease), id)
  elseif max_deliveries > 0 and redis.call('LLEN', hist) >= max_deliveries then
    local dkey = prefix .. 'dead:' .. id
    redis.call('HSET', dkey, 'payload', redis.call('GET', prefix .. 'job:' .. id) or '',
      'queue', queue, 'dead_at', now, 'tries', redis.call('GET', prefix .. 'retry:' .. id) or '0',
      'history', cjson.encode(redis.call('LRANGE', hist, 0, -1)))
    redis.call('ZADD', prefix .. 'dead', now, id)
    redis.call('ZREM', queue, id)
    redis.call('DEL', hist, prefix .. 'job:' .. id, prefix .. 'retry:' .. id)
    redis.call('PUBLISH', prefix .. 'done:' .. id, 'dead')
    aq_hook_dead(prefix, id, max_deliveries, now)
    dead = dead + 1
  else
    local tries = aq_claim_for(prefix, queue, id, worker, lease, now)
    local aborted = redis.call('ZSCORE', prefix .. 'abort', id) and 1 or 0
    out[#out + 1] = id
    out[#out + 1] = redis.call('GET', prefix .. 'job:' .. id) or ''
    out[#out + 1] = score
    out[#out + 1] = tries
    out[#out + 1] = aborted
    claimed = claimed + 1
  end
end
if claimed == 0 and register_idle == '1' then
  redis.call('SADD', prefix .. 'idle:' .. queue, worker .. '/' .. lease)
end
local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
out[#out + 1] = head[2] or ''
return out
