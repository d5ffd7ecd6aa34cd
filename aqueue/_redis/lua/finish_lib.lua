-- Recording outcomes (finish.lua, and the workflow layer's wf_finish.lua), after lib.lua.

-- Deletions of finished jobs, deferred to aq_flush: keys to delete, ids leaving their queue.
local aq_gone_keys, aq_gone_ids = {}, {}
-- Whether a client waits for results ({prefix}listening, set by aqueue/_redis/notify.py while it
-- has waiters): only then is a result announced on {prefix}done:{id}. Read once per script call.
local aq_listening = nil

local function aq_claims(prefix, ids)
  -- Return the in-progress keys of `ids` and the tokens they hold now (false: none), in one MGET.
  local ips = {}
  for n, id in ipairs(ids) do ips[n] = prefix .. 'in-progress:' .. id end
  return ips, aq_mget(ips)
end

local function aq_finish(prefix, queue, id, ip, held, kind, result, ttl_ms, retry_score)
  -- Record one attempt's outcome if its token still holds the job's claim (`held`: the token,
  -- compared with aq_claims, or false if it does not hold; `ip`: the in-progress key). Returns 1,
  -- or 0 if fenced.
  -- kind: 'ok' | 'err' (final, writes the result) | 'retry' (back to the queue at retry_score).
  -- ttl_ms (as text: it is passed on as is): the result's expiry; negative keeps it forever, 0 (or
  -- result '') keeps none.
  -- A final outcome's deletions wait for aq_flush(prefix, queue), which the script must call once.
  if not held then return 0 end
  if kind == 'retry' then
    -- the try is counted as arq counts it (a first try has no counter yet, see aq_claim_for; a
    -- try raised to the producer's _job_try is in the history)
    local rkey = prefix .. 'retry:' .. id
    local counted = math.max(tonumber(string.match(held, '(%d+)$')),
      (aq_history(redis.call('HGET', prefix .. 'deliveries', id))))
    if counted > (tonumber(redis.call('GET', rkey)) or 0) then
      redis.call('SET', rkey, counted, 'EX', AQ_RETRY_TTL_S)
    end
    redis.call('DEL', ip)
    redis.call('HDEL', prefix .. 'deliveries', id)
    redis.call('ZADD', queue, retry_score, id)
    local leased = prefix .. 'leased:' .. queue -- priority > 0: back to ready when due (priority_lib)
    local watch = redis.call('ZSCORE', leased, id)
    if watch then redis.call('ZADD', leased, tonumber(retry_score) * 16 + tonumber(watch) % 16, id) end
    return 1
  end
  local ttl = result ~= '' and tonumber(ttl_ms) or 0
  if ttl > 0 then
    redis.call('SET', prefix .. 'result:' .. id, result, 'PX', ttl_ms)
  elseif ttl < 0 then
    redis.call('SET', prefix .. 'result:' .. id, result)
  end
  local keys = aq_gone_keys -- arq's result key and the done notice stay; the rest goes
  local n = #keys
  keys[n + 1] = ip
  keys[n + 2] = prefix .. 'job:' .. id
  -- a first try (token "worker:1") has no retry counter to delete (aq_claim_for)
  if string.byte(held, -1) ~= 49 or string.byte(held, -2) ~= 58 then keys[n + 3] = prefix .. 'retry:' .. id end
  aq_gone_ids[#aq_gone_ids + 1] = id
  if aq_listening == nil then aq_listening = redis.call('EXISTS', prefix .. 'listening') == 1 end
  if aq_listening then redis.call('PUBLISH', prefix .. 'done:' .. id, kind) end
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
