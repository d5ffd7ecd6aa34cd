-- Shared helpers, prepended to every aqueue script. Keys are derived from a prefix (ARGV) the way
-- aqueue/_redis/keys.py derives them; keep the two in step.
--
-- Per-job Redis work is what bounds a fleet (one Redis core serves every worker), so the hot helpers
-- create as few keys as they can: a claim writes arq's in-progress and retry keys and one field of
-- the {prefix}deliveries hash; a finish defers its deletions to one DEL/HDEL/ZREM per batch.

-- Idle workers register in {prefix}idle:{queue} as "worker_id/lease_ms" and block on
-- {prefix}wake:{worker_id}, which receives '1' (look again) or a handed-over job:
-- 'J' .. try .. ':' .. #id .. ':' .. id .. payload, already claimed for that worker.

-- {prefix}deliveries is a hash: job id -> the deliveries of that job without an outcome yet, as
-- space-separated "worker_id@ms" entries, oldest first (the dead-letter history). A finish, a retry,
-- a dead letter, an abort or a requeue removes the field.

local AQ_UNPACK = 1000 -- arguments per command when a batch is spread over several calls
-- Numbers passed to redis.call are formatted with sprintf on every call: the hot helpers pass
-- strings (ARGV as given, or formatted once per script call).
local AQ_RETRY_TTL_S = '88400' -- arq's retry counter expiry, set from a job's second delivery on

local function aq_parse_idle(member)
  -- Return the worker id and its lease (ms, as text; nil for a member without one).
  local worker, lease = string.match(member, '^(.*)/(%d+)$')
  return worker or member, lease
end

local function aq_wake(prefix, queue)
  -- Wake every worker blocked on this queue: one LPUSH each, then forget them (they re-register).
  local idle_key = prefix .. 'idle:' .. queue
  local idle = redis.call('SMEMBERS', idle_key)
  for _, member in ipairs(idle) do
    local wake_key = prefix .. 'wake:' .. aq_parse_idle(member)
    redis.call('LPUSH', wake_key, '1')
    redis.call('PEXPIRE', wake_key, 60000)
  end
  if #idle > 0 then redis.call('DEL', idle_key) end
  return #idle
end

local function aq_batched(command, head, items)
  -- Run `command head... items...` in as few calls as Lua's stack allows (`head`: leading arguments,
  -- e.g. the key; an even AQ_UNPACK keeps score-member pairs together).
  for first = 1, #items, AQ_UNPACK do
    local args = {unpack(head)}
    for i = first, math.min(first + AQ_UNPACK - 1, #items) do args[#args + 1] = items[i] end
    redis.call(command, unpack(args))
  end
end

local function aq_store_job(prefix, id, payload, ttl_ms, fresh)
  -- Write a job's payload, arq-style: not if its job or result key exists (returns 0), else 1.
  -- ttl_ms nil or <= 0: no expiry (a workflow node's job lives as long as its run).
  -- fresh: the id is a new random one, so the existence check is skipped.
  local jkey = prefix .. 'job:' .. id
  if not fresh and redis.call('EXISTS', jkey, prefix .. 'result:' .. id) > 0 then return 0 end
  if ttl_ms and tonumber(ttl_ms) > 0 then
    redis.call('SET', jkey, payload, 'PX', ttl_ms)
  else
    redis.call('SET', jkey, payload)
  end
  return 1
end

local function aq_write_job(prefix, queue, id, payload, score, ttl_ms)
  -- Write a job (aq_store_job) and queue it at `score`; 0 if the id exists.
  if aq_store_job(prefix, id, payload, ttl_ms) == 0 then return 0 end
  redis.call('ZADD', queue, score, id)
  return 1
end

local function aq_split(history)
  local entries = {}
  for entry in string.gmatch(history, '%S+') do entries[#entries + 1] = entry end
  return entries
end

local function aq_claimer(prefix, worker, lease, now)
  -- What the claims of one script call share, built once: `lease` and `now` are ms, as text.
  -- The history entry is padded past 64 bytes (hash-max-ziplist-value): a hash holding such a value
  -- is a real hash table, whose HSET/HDEL cost stays flat, where a small (ziplist) hash is scanned
  -- and rewritten on every change (about twice the Redis CPU per job with 100 jobs in flight).
  local delivery = worker .. '@' .. now
  return {prefix = prefix, worker = worker, lease = lease, token1 = worker .. ':1',
    delivery = delivery .. string.rep(' ', 65 - #delivery), deliveries = prefix .. 'deliveries'}
end

local function aq_claim_for(c, id, max_deliveries, histories)
  -- Claim job `id` for the claimer `c` (aq_claimer): count the try (arq's retry counter), take the
  -- in-progress key with the fencing token "worker:try" (expiring with the lease) and record the
  -- delivery in the job's history (or append id, history to `histories`, for the caller to HSET in
  -- one call). The caller moves the job's score to the lease end.
  -- Returns the try, or:
  --   false, 'held', ms   another claim holds the job (a plain arq worker's, or a lease of ours
  --                       lapsing this very moment) for about `ms` more (-1: no expiry); nothing changed
  --   false, 'dead', h    `max_deliveries` (> 0) deliveries had no outcome (history h): dead-letter it
  -- A first try costs one call for the counter (SET NX), not INCR + EXPIRE, and no history read.
  -- Its counter has no expiry yet (an expiry costs Redis CPU on every job): every way a job leaves
  -- deletes it, and a second delivery (INCR) gives it arq's expiry.
  local rkey = c.prefix .. 'retry:' .. id
  local tries, token = 1, c.token1
  if not redis.call('SET', rkey, '1', 'NX') then
    tries = redis.call('INCR', rkey)
    redis.call('EXPIRE', rkey, AQ_RETRY_TTL_S)
    token = c.worker .. ':' .. tries
  end
  local ip = c.prefix .. 'in-progress:' .. id
  if not redis.call('SET', ip, token, 'PX', c.lease, 'NX') then
    if tries == 1 then redis.call('DEL', rkey) else redis.call('DECR', rkey) end
    return false, 'held', redis.call('PTTL', ip)
  end
  local delivery = c.delivery
  if tries > 1 then -- a first try has no history (each entry is a counted try)
    local history = redis.call('HGET', c.deliveries, id)
    if history then
      if max_deliveries > 0 and #aq_split(history) >= max_deliveries then
        redis.call('DEL', ip)
        redis.call('DECR', rkey)
        return false, 'dead', history
      end
      delivery = history .. ' ' .. delivery
    end
  end
  if histories then
    histories[#histories + 1] = id
    histories[#histories + 1] = delivery
  else
    redis.call('HSET', c.deliveries, id, delivery)
  end
  return tries
end

local function aq_mget(keys)
  -- MGET in as few calls as Lua's stack allows; returns the values in order (false: missing).
  local values = {}
  for first = 1, #keys, AQ_UNPACK do
    for _, v in ipairs(redis.call('MGET', unpack(keys, first, math.min(first + AQ_UNPACK - 1, #keys)))) do
      values[#values + 1] = v
    end
  end
  return values
end

local function aq_handoff(prefix, queue, id, payload, now)
  -- Give a due, stored but not yet queued job straight to one idle worker (no claim round trip).
  -- Returns false if no worker is idle, 'woken' if one was woken but the job was not claimed for it
  -- (the caller still queues it), 'claimed' if it was claimed for that worker (and so queued).
  local member = redis.call('SPOP', prefix .. 'idle:' .. queue)
  if not member then return false end
  local worker, lease = aq_parse_idle(member)
  local wake_key = prefix .. 'wake:' .. worker
  local tries = lease and aq_claim_for(aq_claimer(prefix, worker, lease, tostring(now)), id, 0)
  if tries then
    redis.call('ZADD', queue, now + tonumber(lease), id)
    redis.call('LPUSH', wake_key, 'J' .. tries .. ':' .. #id .. ':' .. id .. payload)
  else
    redis.call('LPUSH', wake_key, '1')
  end
  redis.call('PEXPIRE', wake_key, 60000)
  return tries and 'claimed' or 'woken'
end

local function aq_parse_handoff(message)
  -- Return id, try of a handed-over job message, or nil for a plain wake-up.
  local tries, idlen, rest = string.match(message, '^J(%d+):(%d+):(.*)$')
  if not tries then return nil end
  return string.sub(rest, 1, tonumber(idlen)), tonumber(tries)
end

local function aq_take_handoffs(prefix, queue, worker, lease, now)
  -- Drain this worker's wake list; return the handed-over jobs it still holds (leases refreshed).
  local wake_key = prefix .. 'wake:' .. worker
  local messages = redis.call('LRANGE', wake_key, 0, -1)
  local held = {}
  if #messages > 0 then redis.call('DEL', wake_key) end
  for _, message in ipairs(messages) do
    local id, tries = aq_parse_handoff(message)
    local ip = id and (prefix .. 'in-progress:' .. id)
    if ip and redis.call('GET', ip) == worker .. ':' .. tries then
      redis.call('PEXPIRE', ip, lease)
      redis.call('ZADD', queue, 'XX', now + lease, id)
      held[#held + 1] = {id, tries}
    end
  end
  return held
end

local function aq_undeliver(prefix, id)
  -- Forget the latest delivery of `id` (handed back unfinished): no try, no dead-letter history.
  local dkey, rkey = prefix .. 'deliveries', prefix .. 'retry:' .. id
  local history = redis.call('HGET', dkey, id)
  local rest = history and string.match(history, '^(.-)%s+%S+%s*$')
  if rest then redis.call('HSET', dkey, id, rest) else redis.call('HDEL', dkey, id) end
  if tonumber(redis.call('GET', rkey) or '0') > 0 then redis.call('DECR', rkey) end
end

-- Deletions of finished jobs, deferred to aq_flush: keys to delete, ids leaving their queue.
local aq_gone_keys, aq_gone_ids = {}, {}

local function aq_claims(prefix, ids)
  -- Return the in-progress keys of `ids` and the tokens they hold now (false: none), in one MGET.
  local ips = {}
  for n, id in ipairs(ids) do ips[n] = prefix .. 'in-progress:' .. id end
  return ips, aq_mget(ips)
end

local function aq_finish(prefix, queue, id, ip, holds, kind, result, ttl_ms, retry_score)
  -- Record one attempt's outcome if its token still holds the job's claim (`holds`: compared with
  -- aq_claims; `ip`: the in-progress key). Returns 1, or 0 if fenced.
  -- kind: 'ok' | 'err' (final, writes the result) | 'retry' (back to the queue at retry_score).
  -- ttl_ms (as text: it is passed on as is): the result's expiry; negative keeps it forever, 0 (or
  -- result '') keeps none.
  -- A final outcome's deletions wait for aq_flush(prefix, queue), which the script must call once.
  if not holds then return 0 end
  if kind == 'retry' then
    redis.call('DEL', ip)
    redis.call('HDEL', prefix .. 'deliveries', id)
    redis.call('ZADD', queue, retry_score, id)
    return 1
  end
  local ttl = result ~= '' and tonumber(ttl_ms) or 0
  if ttl > 0 then
    redis.call('SET', prefix .. 'result:' .. id, result, 'PX', ttl_ms)
  elseif ttl < 0 then
    redis.call('SET', prefix .. 'result:' .. id, result)
  end
  local keys = aq_gone_keys -- arq's result key and the done notice stay; the rest goes
  keys[#keys + 1] = ip
  keys[#keys + 1] = prefix .. 'job:' .. id
  keys[#keys + 1] = prefix .. 'retry:' .. id
  aq_gone_ids[#aq_gone_ids + 1] = id
  redis.call('PUBLISH', prefix .. 'done:' .. id, kind)
  return 1
end

local function aq_flush(prefix, queue)
  -- Apply the deletions aq_finish deferred: job, retry and in-progress keys, deliveries, queue and
  -- abort entries, a few calls for the whole batch.
  if #aq_gone_ids == 0 then return end
  aq_batched('DEL', {}, aq_gone_keys)
  aq_batched('HDEL', {prefix .. 'deliveries'}, aq_gone_ids)
  aq_batched('ZREM', {queue}, aq_gone_ids)
  local abort = prefix .. 'abort'
  if redis.call('EXISTS', abort) == 1 then aq_batched('ZREM', {abort}, aq_gone_ids) end
  aq_gone_keys, aq_gone_ids = {}, {}
end
