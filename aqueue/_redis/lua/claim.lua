-- Claim up to `limit` due jobs for one worker from its queues, in one round trip.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, now_ms, limit, lease_ms, worker_id, register_idle (1/0), max_deliveries (0: off),
--   then per queue 2 fields: queue, quota (at most this many from it before the others had their
--   turn; a worker on one queue, or in strict order, gives each queue the whole limit)
-- A claim (aq_claim_for): in-progress key := token (expires with the lease), score := lease end (so a
-- dead worker's job becomes due again when its lease lapses), retry counter += 1, delivery recorded.
-- Jobs handed over to this worker by enqueue.lua but not yet read are taken first. Then each queue in
-- turn gives up to its quota, then (if the limit is not reached) up to the limit, in the same order:
-- in a queue, due jobs of priority 9 down to 1 (priority_lib.lua: deferred ones are promoted when
-- due), then priority 0 (the queue, oldest first; with groups, group_lib.lua's round robin over the
-- groups' jobs, one in turn with the queue's own). A paused queue ({prefix}paused) gives nothing. A
-- job delivered max_deliveries times without an outcome is dead-lettered instead, and the
-- extensions' on_dead hooks run (aq_hook_dead, composed in by aqueue/_redis/hooks.py). With nothing
-- claimed and register_idle = 1, the worker is registered idle on each queue (an enqueue to any of
-- them wakes it or hands it a job; on a paused queue, in {prefix}idle-paused:{queue}, which only a
-- resume wakes). A worker on several queues registers as worker/lease/m and sets
-- {prefix}armed:{worker}, which the first handoff to it takes (lib.lua): one handoff per idle spell;
-- the handoff says which queue the job is from.
-- Admission rules of extensions (the limits layer) run per candidate (aq_hook_admit): a job they
-- refuse leaves its queue and stays with them until they give it back (aq_hook_waiting, first in
-- the next claims of its queue); when to look again is folded into the reply's last field
-- (aq_hook_next_check).
-- Reply: a flat list, per claimed job: id, payload ('' if expired), score (as queued), try (negated:
-- an abort was asked), and for a worker on several queues a fifth field, its queue ('' for the
-- first one); then, last, the earliest score still in any of the queues, deferred jobs of
-- priority > 0 included ('' if none, or all paused).
local prefix, now, limit, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local worker, register_idle, max_deliveries = ARGV[5], ARGV[6], tonumber(ARGV[7])
local queues, quotas = {}, {}
for i = 8, #ARGV, 2 do
  queues[#queues + 1] = ARGV[i]
  quotas[#queues] = tonumber(ARGV[i + 1])
end
local member = worker .. '/' .. ARGV[4] .. (#queues > 1 and '/m' or '')
local claimer = aq_claimer(prefix, worker, ARGV[4], ARGV[2])
local admitting = aq_hook_admitting(prefix) -- an extension's admission rules are in force
local out, claimed, payloads, histories, taken = {}, 0, {}, {}, {}
local stride = #queues > 1 and 5 or 4 -- reply fields per job
for _, queue in ipairs(queues) do redis.call('SREM', prefix .. 'idle:' .. queue, member) end
if #queues > 1 then redis.call('DEL', prefix .. 'armed:' .. worker) end
for _, job in ipairs(aq_take_handoffs(prefix, queues[1], worker, lease, now)) do
  local id, n = job[1], #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = id, redis.call('GET', prefix .. 'job:' .. id) or '', now, job[2]
  if stride == 5 then out[n + 5] = job[3] or '' end
  claimed = claimed + 1
end
local abort = prefix .. 'abort'
-- One EXISTS tells the plain path (no abort asked, no queue paused, no priority jobs in the first
-- queue); only otherwise are they told apart.
local plain = redis.call('EXISTS', abort, prefix .. 'paused', prefix .. 'ready:' .. queues[1],
  prefix .. 'delayed:' .. queues[1], prefix .. 'leased:' .. queues[1], prefix .. 'groups:' .. queues[1]) == 0
local aborts = not plain and redis.call('EXISTS', abort) == 1
local lease_end = tostring(now + lease)
-- One queue on the plain path has one source of candidates (one ZRANGEBYSCORE): none is seen twice.
local dedupe = not (plain and #queues == 1 and not admitting)

-- per queue: its flow (priority_lib.lua's aq_flow: nil on the plain path) and its claims, written
-- in a few calls per queue at the end
local state = {}
for n, queue in ipairs(queues) do
  local flow = not (plain and n == 1) and aq_flow(prefix, queue) or nil
  state[n] = {queue = queue, name = n == 1 and '' or queue, flow = flow, paused = flow and flow.is_paused,
    leased = {}, fresh = {}, unready = {}, watched = {}, promoted = false, backlog = false, seen = 0,
    grouped = not (plain and n == 1) and redis.call('EXISTS', prefix .. 'groups:' .. queue) == 1}
end

local function dead_letter(queue, id, detail, tries)
  -- Delivered max_deliveries times without an outcome (its workers died): dead-letter it.
  local jkey, rkey = prefix .. 'job:' .. id, prefix .. 'retry:' .. id
  redis.call('HSET', prefix .. 'dead:' .. id, 'payload', redis.call('GET', jkey) or '',
    'queue', queue, 'dead_at', now, 'tries', tries, 'history', cjson.encode(aq_split(detail)))
  redis.call('ZADD', prefix .. 'dead', now, id)
  redis.call('ZREM', queue, id)
  redis.call('DEL', jkey, rkey)
  redis.call('HDEL', prefix .. 'deliveries', id)
  redis.call('PUBLISH', prefix .. 'done:' .. id, 'dead')
  aq_hook_dead(prefix, id, max_deliveries, now, worker) -- extensions' on_dead (a workflow node fails its run)
end

local function claim(s, id, score, priority, waited, counter, history)
  -- Claim one candidate of queue state `s` (priority nil: from the queue, or, waited, given back by
  -- an extension that held it; else from the ready set). A candidate seen before in this call (its
  -- new score is written at the end) is skipped; one an extension does not admit leaves its queue.
  -- `counter`, `history`: as aq_prefetch read them (nil: aq_claim_for reads them).
  if dedupe then
    if taken[id] then return end
    taken[id] = true
  end
  s.seen = s.seen + 1
  if admitting and not aq_hook_admit(prefix, s.queue, id, now) then
    if priority then s.unready[#s.unready + 1] = id elseif not waited then redis.call('ZREM', s.queue, id) end
    return
  end
  local tries, why, detail, before = aq_claim_for(claimer, id, max_deliveries, histories, counter, history)
  if priority then s.unready[#s.unready + 1] = id end
  if tries then
    if admitting then aq_hook_claimed(prefix, s.queue, id, tries, lease_end, now) end
    local into = (priority or waited) and s.fresh or s.leased
    local m = #into
    into[m + 1] = lease_end
    into[m + 2] = id
    if priority then
      s.watched[#s.watched + 1] = (now + lease) * 16 + priority
      s.watched[#s.watched + 1] = id
    end
    payloads[#payloads + 1] = prefix .. 'job:' .. id
    local n = #out
    out[n + 1] = id
    out[n + 2] = '' -- the payload, read below in one MGET
    out[n + 3] = score
    out[n + 4] = (aborts and redis.call('ZSCORE', abort, id)) and -tries or tries
    if stride == 5 then out[n + 5] = s.name end
    claimed = claimed + 1
  elseif why == 'held' then
    -- look again when that claim lapses, not a whole lease of ours later
    local again = now + (detail >= 0 and math.max(detail, 1) or lease)
    redis.call('ZADD', s.queue, (priority or waited) and 'NX' or 'XX', again, id)
    if priority then redis.call('ZADD', s.flow.leased, again * 16 + priority, id) end
  else
    dead_letter(s.queue, id, detail, before)
  end
end

local function claim_grouped(s, upto)
  -- Round robin (group_lib.lua): the groups' jobs in turn, with the queue's own (ungrouped) ones.
  local room = upto - claimed
  local own = redis.call('ZRANGEBYSCORE', s.queue, '-inf', now, 'WITHSCORES', 'LIMIT', 0, room + 2 + s.seen)
  local fresh = {}
  for i = 1, #own, 2 do if not taken[own[i]] then fresh[#fresh + 1] = own[i]; fresh[#fresh + 1] = own[i + 1] end end
  local round, left = aq_group_round(prefix, s.queue, now, room, fresh), {}
  for _, job in ipairs(round) do
    if claimed < upto then claim(s, job[1], job[2], nil, job[3] ~= nil) else left[#left + 1] = job end
  end
  aq_group_return(prefix, s.queue, left)
end

local function claim_from(s, upto)
  -- Claim from one queue until `upto` jobs are claimed in all: priorities first, then priority 0.
  if s.paused or claimed >= upto then return end
  if admitting and not s.given then -- jobs an extension held back and now gives back come first
    s.given = true
    for _, id in ipairs(aq_hook_waiting(prefix, s.queue, now, upto - claimed)) do claim(s, id, now, nil, true) end
    if claimed >= upto then return end
  end
  local flow = s.flow
  if flow and flow.priority then
    if not s.promoted then
      s.backlog = aq_promote(prefix, s.queue, flow, now, lease)
      s.promoted = true
    end
    for _, job in ipairs(aq_ready_ids(flow, upto - claimed + s.seen)) do
      if claimed >= upto then break end
      claim(s, job[1], now, job[2])
    end
  end
  -- more priority jobs were due than one call promotes: priority 0 waits
  if s.backlog or claimed >= upto then return end
  if s.grouped then return claim_grouped(s, upto) end
  local ids = redis.call('ZRANGEBYSCORE', s.queue, '-inf', now, 'WITHSCORES', 'LIMIT', 0,
    upto - claimed + 2 + s.seen)
  local counters, histories_of = aq_prefetch(claimer, ids, 1, #ids, 2)
  for i = 1, #ids, 2 do
    if claimed >= upto then break end
    local k = (i + 1) / 2
    claim(s, ids[i], ids[i + 1], nil, nil, counters[k], histories_of[k])
  end
end

for n, s in ipairs(state) do claim_from(s, math.min(limit, claimed + quotas[n])) end
for n, s in ipairs(state) do
  if quotas[n] < limit then claim_from(s, limit) end -- what the quotas left, in order
end
for _, s in ipairs(state) do
  aq_batched('ZADD', {s.queue, 'XX'}, s.leased)
  if s.flow then
    aq_batched('ZADD', {s.queue}, s.fresh)
    aq_batched('ZADD', {s.flow.leased}, s.watched)
    aq_batched('ZREM', {s.flow.ready}, s.unready)
  end
end
aq_batched('HSET', {claimer.deliveries}, histories)
local first = #out - stride * #payloads -- the claimed (not handed-over) jobs are the last in `out`
for n, payload in ipairs(aq_mget(payloads)) do
  out[first + stride * (n - 1) + 2] = payload or ''
end
local head = nil
if #queues > 1 and claimed == 0 and register_idle == '1' then
  redis.call('SET', prefix .. 'armed:' .. worker, '1', 'PX', 600000)
end
for _, s in ipairs(state) do
  if claimed == 0 and register_idle == '1' then
    redis.call('SADD', prefix .. (s.paused and 'idle-paused:' or 'idle:') .. s.queue, member)
  end
  if not s.paused then
    local next_due = tonumber(redis.call('ZRANGE', s.queue, 0, 0, 'WITHSCORES')[2])
    local deferred = s.flow and s.flow.priority and aq_next_deferred(s.flow)
    if deferred and (not next_due or deferred < next_due) then next_due = deferred end
    local turn = s.grouped and aq_group_next_turn(prefix, s.queue)
    if turn and (not next_due or turn < next_due) then next_due = turn end
    local check = admitting and aq_hook_next_check(prefix, s.queue) -- held-back jobs: when to look again
    if check and (not next_due or check < next_due) then next_due = check end
    if next_due and (not head or next_due < head) then head = next_due end
  end
end
out[#out + 1] = head and string.format('%d', head) or ''
return out
