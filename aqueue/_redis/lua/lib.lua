-- Shared helpers, prepended to every aqueue script (handoff_lib.lua and finish_lib.lua follow it in
-- the scripts that need them: every function defined costs Redis CPU on every call). Keys are
-- derived from a prefix (ARGV) the way aqueue/_redis/keys.py derives them; keep the two in step.
--
-- Per-job Redis work is what bounds a fleet (one Redis core serves every worker), so the hot helpers
-- create as few keys as they can: a claim writes arq's in-progress and retry keys and one field of
-- the {prefix}deliveries hash; a finish defers its deletions to one DEL/HDEL/ZREM per batch.

-- Idle workers register in {prefix}idle:{queue} as "worker_id/lease_ms" ("worker_id/lease_ms/m" for
-- a worker on several queues, registered in each) and block on {prefix}wake:{worker_id}, which
-- receives '1' (look again) or a handed-over job, already claimed for that worker:
-- 'J' .. try .. ':' .. #id .. ':' .. id .. payload, or for a worker on several queues
-- 'K' .. try .. ':' .. #id .. ':' .. #queue .. ':' .. id .. queue .. payload. Such a worker also sets
-- {prefix}armed:{worker_id} when it registers: the one handoff it gets takes it (through any of its
-- queues), so it is handed at most one job per idle spell.

-- {prefix}deliveries is a hash: job id -> the deliveries of that job without an outcome yet, as
-- space-separated "worker_id@ms" entries, oldest first (the dead-letter history). A finish, a retry,
-- a dead letter, an abort or a requeue removes the field.

local AQ_UNPACK = 1000 -- arguments per command when a batch is spread over several calls
-- Numbers passed to redis.call are formatted with sprintf on every call: the hot helpers pass
-- strings (ARGV as given, or formatted once per script call).
local AQ_RETRY_TTL_S = '88400' -- arq's retry counter expiry, set from a job's second delivery on

local function aq_parse_idle(member)
  -- Return the worker id, its lease (ms, as text; nil for a member without one) and whether it
  -- serves several queues.
  local worker, lease, many = string.match(member, '^(.-)/(%d+)(/?m?)$')
  return worker or member, lease, many == '/m'
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
  -- Run `command head... items...` in as few calls as Lua's stack allows (`head`: at most two
  -- leading arguments, e.g. the key and a flag; an even AQ_UNPACK keeps score-member pairs
  -- together). The items are unpacked onto the stack, not copied into a table of arguments.
  local h1, h2, n = head[1], head[2], #items
  for first = 1, n, AQ_UNPACK do
    local last = math.min(first + AQ_UNPACK - 1, n)
    if h2 then
      redis.call(command, h1, h2, unpack(items, first, last))
    elseif h1 then
      redis.call(command, h1, unpack(items, first, last))
    else
      redis.call(command, unpack(items, first, last))
    end
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

local function aq_mget(keys, hash)
  -- MGET `keys` (or with `hash`, HMGET those fields of it) in as few calls as Lua's stack allows;
  -- returns the values in order (false: missing).
  local n, command = #keys, hash and 'HMGET' or 'MGET'
  if n == 0 then return {} end
  if n <= AQ_UNPACK then
    if hash then return redis.call(command, hash, unpack(keys)) end
    return redis.call(command, unpack(keys))
  end
  local values, count = {}, 0
  for first = 1, n, AQ_UNPACK do
    local last = math.min(first + AQ_UNPACK - 1, n)
    local got
    if hash then got = redis.call(command, hash, unpack(keys, first, last)) else got = redis.call(command, unpack(keys, first, last)) end
    for _, v in ipairs(got) do
      count = count + 1
      values[count] = v
    end
  end
  return values
end

local function aq_split(entries)
  local list = {}
  for entry in string.gmatch(entries, '%S+') do list[#list + 1] = entry end
  return list
end

local function aq_history(history)
  -- Parse a {prefix}deliveries field: the try of its newest delivery, and its entries (nil: none).
  if not history then return 0, nil end
  local last, entries = string.match(history, '^(%d+) (.*)$')
  if last then return tonumber(last), entries end
  return 0, history -- written by an earlier aqueue (entries only): its retry counter counts
end

local function aq_claimer(prefix, worker, lease, now)
  -- What the claims of one script call share, built once: `lease` and `now` are ms, as text.
  -- The history entry is padded past 64 bytes (hash-max-ziplist-value): a hash holding such a value
  -- is a real hash table, whose HSET/HDEL cost stays flat, where a small (ziplist) hash is scanned
  -- and rewritten on every change (about twice the Redis CPU per job with 100 jobs in flight).
  local delivery = worker .. '@' .. now
  return {prefix = prefix, worker = worker, lease = lease, token1 = worker .. ':1',
    delivery = delivery .. string.rep(' ', 65 - #delivery), deliveries = prefix .. 'deliveries',
    first = '1 ' .. delivery .. string.rep(' ', 65 - #delivery)} -- a first try's history, built once
end

local function aq_prefetch(c, ids, first, last, step)
  -- Read the retry counters and delivery histories of ids[first], ids[first + step], ... ids[last]
  -- in two calls (for aq_claim_for, instead of two reads per job): two lists in that order, each
  -- value false if there is none.
  local rkeys, fields, n = {}, {}, 0
  for i = first, last, step do
    n = n + 1
    fields[n] = ids[i]
    rkeys[n] = c.prefix .. 'retry:' .. ids[i]
  end
  return aq_mget(rkeys), aq_mget(fields, c.deliveries)
end

local function aq_claim_for(c, id, max_deliveries, histories, counter, history)
  -- Claim job `id` for the claimer `c` (aq_claimer): count the try, take the in-progress key with
  -- the fencing token "worker:try" (expiring with the lease) and record the delivery in the job's
  -- history (or append id, history to `histories`, for the caller to HSET in one call). The caller
  -- moves the job's score to the lease end.
  -- The try is one more than the higher of arq's retry counter ({prefix}retry:{id}: tries counted by
  -- an arq worker, an earlier try's retry, or the producer's _job_try) and the try of the job's
  -- newest delivery without an outcome ({prefix}deliveries: "try entry entry ..."). A first try
  -- writes no counter (a key more per job costs Redis CPU twice: here, and when the job leaves);
  -- from the second on the counter is set as arq counts it.
  -- `counter`, `history`: the job's, as aq_prefetch read them (nil: read them here).
  -- Returns the try, or:
  --   false, 'held', ms   another claim holds the job (a plain arq worker's, or a lease of ours
  --                       lapsing this very moment) for about `ms` more (-1: no expiry); nothing changed
  --   false, 'dead', h, n `max_deliveries` (> 0) deliveries had no outcome (entries h, n tries so
  --                       far): dead-letter it
  if counter == nil then counter = redis.call('GET', c.prefix .. 'retry:' .. id) end
  if history == nil then history = redis.call('HGET', c.deliveries, id) end
  local last, entries = aq_history(history)
  local before = math.max(tonumber(counter) or 0, last)
  local tries = before + 1
  local token = tries == 1 and c.token1 or c.worker .. ':' .. tries
  local ip = c.prefix .. 'in-progress:' .. id
  if not redis.call('SET', ip, token, 'PX', c.lease, 'NX') then
    return false, 'held', redis.call('PTTL', ip)
  end
  if entries and max_deliveries > 0 and #aq_split(entries) >= max_deliveries then
    redis.call('DEL', ip)
    return false, 'dead', entries, before
  end
  if tries > 1 then redis.call('SET', c.prefix .. 'retry:' .. id, tries, 'EX', AQ_RETRY_TTL_S) end
  local delivery = tries == 1 and not entries and c.first
    or tries .. ' ' .. (entries and entries .. ' ' .. c.delivery or c.delivery)
  if histories then
    local n = #histories
    histories[n + 1] = id
    histories[n + 2] = delivery
  else
    redis.call('HSET', c.deliveries, id, delivery)
  end
  return tries
end

local function aq_handoff(prefix, queue, id, payload, now, priority)
  -- Give a due, stored but not yet queued job straight to one idle worker (no claim round trip).
  -- Returns false if no worker is idle, 'woken' if one was woken but the job was not claimed for it
  -- (the caller still queues it), 'claimed' if it was claimed for that worker (and so queued).
  -- A job of priority > 0 (1-9) claimed so also gets its {prefix}leased entry (see priority_lib.lua).
  -- A paused queue has no idle workers in {prefix}idle:{queue}: nothing is handed over.
  local member, worker, lease, many, wake_key
  repeat -- a worker on several queues may have had its handoff through another one: skip it
    member = redis.call('SPOP', prefix .. 'idle:' .. queue)
    if not member then return false end
    worker, lease, many = aq_parse_idle(member)
    wake_key = prefix .. 'wake:' .. worker
  until not many or redis.call('DEL', prefix .. 'armed:' .. worker) == 1
  local tries = lease and aq_claim_for(aq_claimer(prefix, worker, lease, tostring(now)), id, 0)
  if tries then
    redis.call('ZADD', queue, now + tonumber(lease), id)
    if priority and priority > 0 then
      redis.call('ZADD', prefix .. 'leased:' .. queue, (now + tonumber(lease)) * 16 + priority, id)
    end
    if many then
      redis.call('LPUSH', wake_key, 'K' .. tries .. ':' .. #id .. ':' .. #queue .. ':' .. id .. queue .. payload)
    else
      redis.call('LPUSH', wake_key, 'J' .. tries .. ':' .. #id .. ':' .. id .. payload)
    end
  else
    redis.call('LPUSH', wake_key, '1')
  end
  redis.call('PEXPIRE', wake_key, 60000)
  return tries and 'claimed' or 'woken'
end
