-- Claim up to `limit` due jobs for one worker, in one round trip.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, now_ms, limit, lease_ms, worker_id, register_idle (1/0), max_deliveries (0: off)
-- A claim (aq_claim_for): in-progress key := token (expires with the lease), score := lease end (so a
-- dead worker's job becomes due again when its lease lapses), retry counter += 1, delivery recorded.
-- Jobs handed over to this worker by enqueue.lua but not yet read are taken first. A job delivered
-- max_deliveries times without an outcome is dead-lettered instead, and the extensions' on_dead hooks
-- run (aq_hook_dead, composed in by aqueue/_redis/hooks.py). With nothing claimed and
-- register_idle = 1, the worker is registered idle on the queue (enqueues wake or hand it a job).
-- Reply: a flat list, 5 fields per claimed job: id, payload ('' if expired), score (as queued), try,
-- aborted (1/0); then, last, the earliest score still in the queue ('' if empty).
local prefix, queue = ARGV[1], ARGV[2]
local now, limit, lease = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local worker, register_idle, max_deliveries = ARGV[6], ARGV[7], tonumber(ARGV[8])
local claimer = aq_claimer(prefix, worker, ARGV[5], ARGV[3])
local out, claimed, leased, payloads, histories = {}, 0, {}, {}, {}
redis.call('SREM', prefix .. 'idle:' .. queue, worker .. '/' .. ARGV[5])
for _, job in ipairs(aq_take_handoffs(prefix, queue, worker, lease, now)) do
  local id, tries = job[1], job[2]
  for _, v in ipairs({id, redis.call('GET', prefix .. 'job:' .. id) or '', now, tries, 0}) do
    out[#out + 1] = v
  end
  claimed = claimed + 1
end
local abort = prefix .. 'abort'
local aborts = redis.call('EXISTS', abort) == 1
local lease_end = tostring(now + lease)
local ids = redis.call('ZRANGEBYSCORE', queue, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit + 10)
for i = 1, #ids, 2 do
  if claimed >= limit then break end
  local id, score = ids[i], ids[i + 1]
  local tries, why, detail = aq_claim_for(claimer, id, max_deliveries, histories)
  if tries then
    leased[#leased + 1] = lease_end
    leased[#leased + 1] = id
    payloads[#payloads + 1] = prefix .. 'job:' .. id
    out[#out + 1] = id
    out[#out + 1] = '' -- the payload, read below in one MGET
    out[#out + 1] = score
    out[#out + 1] = tries
    out[#out + 1] = (aborts and redis.call('ZSCORE', abort, id)) and 1 or 0
    claimed = claimed + 1
  elseif why == 'held' then
    -- look again when that claim lapses, not a whole lease of ours later
    redis.call('ZADD', queue, 'XX', now + (detail >= 0 and math.max(detail, 1) or lease), id)
  else -- dead: delivered max_deliveries times without an outcome (its workers died)
    local jkey, rkey = prefix .. 'job:' .. id, prefix .. 'retry:' .. id
    redis.call('HSET', prefix .. 'dead:' .. id, 'payload', redis.call('GET', jkey) or '',
      'queue', queue, 'dead_at', now, 'tries', redis.call('GET', rkey) or '0',
      'history', cjson.encode(aq_split(detail)))
    redis.call('ZADD', prefix .. 'dead', now, id)
    redis.call('ZREM', queue, id)
    redis.call('DEL', jkey, rkey)
    redis.call('HDEL', prefix .. 'deliveries', id)
    redis.call('PUBLISH', prefix .. 'done:' .. id, 'dead')
    aq_hook_dead(prefix, id, max_deliveries, now, worker) -- extensions' on_dead (a workflow node fails its run)
  end
end
aq_batched('ZADD', {queue, 'XX'}, leased)
aq_batched('HSET', {claimer.deliveries}, histories)
local first = #out - 5 * #payloads -- the claimed (not handed-over) jobs are the last in `out`
for n, payload in ipairs(aq_mget(payloads)) do
  out[first + 5 * (n - 1) + 2] = payload or ''
end
if claimed == 0 and register_idle == '1' then
  redis.call('SADD', prefix .. 'idle:' .. queue, worker .. '/' .. ARGV[5])
end
local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
out[#out + 1] = head[2] or ''
return out
