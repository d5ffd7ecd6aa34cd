-- Record workflow nodes' outcomes and release their dependents, atomically.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, now_ms, worker_id, lease_ms, claim_limit, then per outcome 8 fields:
--   job_id, token, kind, retry_score, times, value, error, info
--   (times: "start_ms,finish_ms,try"; value: the result, encoded; error: the exception, encoded;
--   info: the failure info passed to error callbacks, encoded).
-- A released dependent on this worker's queue is claimed for this worker directly while
-- claim_limit allows and the extensions' may_hand_off hooks agree (its payload comes back in the
-- reply); others are queued and wake workers. Each recorded outcome runs the extensions'
-- on_attempt_end hooks (aq_hook_attempt_end); each job written (released or an error callback)
-- their on_enqueue hooks, the call their on_enqueue_batch.
-- Reply: per outcome 1 (recorded) or 0 (fenced), then 5 fields per directly claimed job:
--   id, payload, score, try, aborted (0), as in claim.lua.
local prefix, queue, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local worker, lease, limit = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local flags, claimed = {}, {}
local claimer = aq_claimer(prefix, worker, ARGV[5], ARGV[3])

local function claim_direct(id, payload)
  -- Write the released job and claim it for this worker; its payload goes back in the reply.
  if aq_store_job(prefix, id, payload, nil) == 0 then return end
  aq_hook_enqueue(prefix, queue, id, payload, now)
  local tries = aq_claim_for(claimer, id, 0)
  if not tries then -- held by another claim: queue it like any released job
    redis.call('ZADD', queue, now, id)
    aq_wake(prefix, queue)
    return
  end
  redis.call('ZADD', queue, now + lease, id)
  for _, v in ipairs({id, payload, now, tries, 0}) do claimed[#claimed + 1] = v end
end

local function release(run, node)
  local spec = cjson.decode(redis.call('HGET', wf_key(prefix, run, ':spec'), node))
  local id = run .. ':' .. node
  local payload = spec.pre .. wf_render(prefix, run, spec['in']) .. spec.post .. now .. '}'
  redis.call('HSET', wf_key(prefix, run, ':state'), node, 'queued')
  if spec.q == queue and #claimed < limit * 5 and aq_hook_may_hand_off(prefix, queue, id, payload) then
    claim_direct(id, payload)
  else
    wf_enqueue(prefix, spec.q, id, payload, now, nil)
  end
end

local function complete(run)
  local meta = wf_key(prefix, run, '')
  local parts = cjson.decode(redis.call('HGET', meta, 'result_parts'))
  redis.call('HSET', meta, 'result', wf_render(prefix, run, parts))
  wf_end(prefix, run, 'complete', now)
end

local function record(i, ip, held)
  local id, kind = ARGV[i], ARGV[i + 2]
  local run, node = string.match(id, '^(.*):(%d+)$')
  if run == nil then
    return aq_finish(prefix, queue, id, ip, held, kind, '', '0', ARGV[i + 3])
  end
  local meta = wf_key(prefix, run, '')
  local ended = redis.call('HGET', meta, 'state') ~= 'running'
  -- once the run has ended, a node that asks for a retry gets no new try
  local final = (ended and kind == 'retry') and 'err' or kind
  if aq_finish(prefix, queue, id, ip, held, final, '', '0', ARGV[i + 3]) == 0 then return 0 end
  local states = wf_key(prefix, run, ':state')
  if ended then
    -- the node ran on after the run ended: show how it ended (its result is not kept)
    if redis.call('HGET', states, node) == 'queued' then
      local shown = {ok = 'done', err = 'failed', retry = 'cancelled'}
      redis.call('HSET', states, node, shown[kind])
    end
    return 1
  end
  if kind == 'retry' then return 1 end
  local st = redis.call('HGET', states, node)
  if st == 'done' or st == 'failed' then return 1 end
  redis.call('HSET', wf_key(prefix, run, ':times'), node, ARGV[i + 4])
  if kind == 'ok' then
    redis.call('HSET', wf_key(prefix, run, ':results'), node, ARGV[i + 5])
    redis.call('HSET', states, node, 'done')
    local spec = cjson.decode(redis.call('HGET', wf_key(prefix, run, ':spec'), node))
    for _, d in ipairs(spec.d) do
      if redis.call('HINCRBY', wf_key(prefix, run, ':pending'), d, -1) == 0 then
        release(run, tostring(d))
      end
    end
    if redis.call('HINCRBY', meta, 'done', 1) == tonumber(redis.call('HGET', meta, 'total')) then
      complete(run)
    end
  else
    wf_fail(prefix, run, node, ARGV[i + 6], ARGV[i + 7], now)
  end
  return 1
end

local ids = {}
for i = 7, #ARGV, 8 do ids[#ids + 1] = ARGV[i] end
local ips, tokens = aq_claims(prefix, ids)
local holding = aq_hook_holding(prefix)
for n = 1, #ids do
  local i = 7 + 8 * (n - 1)
  flags[n] = record(i, ips[n], tokens[n] == ARGV[i + 1] and ARGV[i + 1])
  if holding and flags[n] == 1 then aq_hook_attempt_end(prefix, queue, ids[n]) end -- (a limit's slot)
end
aq_flush(prefix, queue)
aq_hook_enqueued(prefix, queue, now) -- the released nodes' and error callbacks' on_enqueue_batch
for _, v in ipairs(claimed) do flags[#flags + 1] = v end
return flags
