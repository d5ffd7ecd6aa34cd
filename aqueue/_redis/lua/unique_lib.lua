-- Unique keys (deduplication, throttle, debounce), after lib.lua: enqueue_unique.lua, abort.lua and
-- the worker's dedup extension (aqueue/_unique.py: its on_finish and on_dead hooks).
--
-- {prefix}unique:{key} (string, expiring) holds 'L' .. id while job `id` holds the key (queued,
-- deferred, running, waiting for a retry), then 'F' .. id for `unique_for` ms after the job ended
-- (throttle). A held key whose job is gone (its job key expired, a purge, a worker without the dedup
-- extension) counts as free: a missed release never blocks a key. The key expires AQ_UQ_MARGIN_MS after
-- its job's key would (a safety net; every way a job ends releases it at once).
-- {prefix}uniques (hash): job id -> its key, queue and unique_for (cjson: k, q, f), what a release needs.

local AQ_UQ_MARGIN_MS = 3600000

local aq_uq_any = nil -- whether {prefix}uniques exists, looked up once per script call

local function aq_unique_spec(prefix, id)
  -- Return job `id`'s unique spec ({k = key, q = queue, f = unique_for ms}) or nil.
  local spec = redis.call('HGET', prefix .. 'uniques', id)
  return spec and cjson.decode(spec)
end

local function aq_unique_holder(prefix, ukey)
  -- Return the id holding unique key `ukey` and whether its job has ended (throttle), or nil if free.
  -- A holder whose job is gone is forgotten here (its spec deleted) and the key counts as free.
  local value = redis.call('GET', ukey)
  if not value then return nil end
  local state, id = string.sub(value, 1, 1), string.sub(value, 2)
  if state == 'F' then return id, true end
  if redis.call('EXISTS', prefix .. 'job:' .. id, prefix .. 'in-progress:' .. id) > 0 then return id, false end
  redis.call('HDEL', prefix .. 'uniques', id)
  return nil
end

local function aq_unique_hold(prefix, id, ukey, spec, key_ttl)
  -- Job `id` takes unique key `ukey` (its spec: cjson text), expiring after `key_ttl` ms.
  redis.call('SET', ukey, 'L' .. id, 'PX', key_ttl)
  redis.call('HSET', prefix .. 'uniques', id, spec)
end

local function aq_unique_end(prefix, id)
  -- Job `id` ended: release its unique key, or hold it 'F' .. id for its unique_for. A job without a
  -- key costs one EXISTS per script call.
  if aq_uq_any == nil then aq_uq_any = redis.call('EXISTS', prefix .. 'uniques') == 1 end
  if not aq_uq_any then return end
  local u = aq_unique_spec(prefix, id)
  if not u then return end
  redis.call('HDEL', prefix .. 'uniques', id)
  local ukey = prefix .. 'unique:' .. u.k
  if redis.call('GET', ukey) ~= 'L' .. id then return end -- another job holds it now (debounce)
  if u.f > 0 then
    redis.call('SET', ukey, 'F' .. id, 'PX', u.f)
  else
    redis.call('DEL', ukey)
  end
end

local function aq_unique_finished(prefix, queue, id, kind)
  -- on_finish: a final outcome ends the job (a retry keeps the key).
  if kind ~= 'retry' then aq_unique_end(prefix, id) end
end

local function aq_unique_dead(prefix, id, max_deliveries, now)
  -- on_dead: a dead letter ends the job; its dead letter keeps the spec (a requeue takes the key again).
  local spec = redis.call('HGET', prefix .. 'uniques', id)
  if not spec then return end
  redis.call('HSET', prefix .. 'dead:' .. id, 'unique', spec)
  aq_unique_end(prefix, id)
end

local function aq_unique_requeued(prefix, id, spec, ttl)
  -- A dead letter with unique spec `spec` went back to its queue: it takes its key again if the key is
  -- free (else another job took it meanwhile, and the requeued one runs as well: the operator asked).
  local ukey = prefix .. 'unique:' .. cjson.decode(spec).k
  if aq_unique_holder(prefix, ukey) then return end
  aq_unique_hold(prefix, id, ukey, spec, tonumber(ttl) + AQ_UQ_MARGIN_MS)
end
