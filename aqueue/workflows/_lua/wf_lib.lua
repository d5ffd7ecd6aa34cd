-- Workflow continuations (prepended after lib.lua). A run's state lives in hashes under
-- {prefix}wf:{run}: meta (the run), :spec (node -> JSON spec), :pending (node -> parents left),
-- :state (node -> waiting|queued|done|failed|cancelled), :results (node -> result JSON),
-- :times (node -> "start,finish,try"), :errors (node -> exception JSON).

local WF_SUFFIXES = {'', ':spec', ':pending', ':state', ':results', ':times', ':errors'}

local function wf_key(prefix, run, suffix)
  return prefix .. 'wf:' .. run .. suffix
end

local function wf_render(prefix, run, parts)
  -- Concatenate literal JSON fragments and stored node results (numbers are node ids).
  if parts == nil or parts == cjson.null then return '' end
  local results, buf = wf_key(prefix, run, ':results'), {}
  for _, part in ipairs(parts) do
    if type(part) == 'number' then
      buf[#buf + 1] = redis.call('HGET', results, tostring(part)) or 'null'
    else
      buf[#buf + 1] = part
    end
  end
  return table.concat(buf)
end

local function wf_expire(prefix, run, ttl_ms)
  for _, suffix in ipairs(WF_SUFFIXES) do
    redis.call('PEXPIRE', wf_key(prefix, run, suffix), ttl_ms)
  end
end

local function wf_end(prefix, run, state, now)
  local meta = wf_key(prefix, run, '')
  redis.call('HSET', meta, 'state', state, 'finished_ms', now)
  wf_expire(prefix, run, tonumber(redis.call('HGET', meta, 'ttl_ms')))
  redis.call('PUBLISH', prefix .. 'done:wf:' .. run, state)
end

local function wf_enqueue(prefix, queue, id, payload, now, ttl_ms)
  -- Queue a job due now and wake the queue's idle workers (ttl_ms nil: no expiry). A written job
  -- runs the extensions' on_enqueue hooks; the script runs their on_enqueue_batch once, at its end.
  if aq_write_job(prefix, queue, id, payload, now, ttl_ms) == 1 then
    aq_hook_enqueue(prefix, queue, id, payload, now)
  end
  aq_wake(prefix, queue)
end

local function wf_sweep(prefix, run, abort_running, now)
  -- Stop queued nodes (they never start) and, if asked, flag running ones for abort.
  local states = redis.call('HGETALL', wf_key(prefix, run, ':state'))
  local specs = wf_key(prefix, run, ':spec')
  for i = 1, #states, 2 do
    local node, st = states[i], states[i + 1]
    if st == 'queued' or st == 'waiting' then
      local id = run .. ':' .. node
      if redis.call('EXISTS', prefix .. 'in-progress:' .. id) == 1 then
        if abort_running then
          redis.call('ZADD', prefix .. 'abort', now, id)
          redis.call('HSET', wf_key(prefix, run, ':state'), node, 'cancelled')
        end
      else
        local spec = cjson.decode(redis.call('HGET', specs, node))
        redis.call('ZREM', spec.q, id)
        redis.call('DEL', prefix .. 'job:' .. id, prefix .. 'retry:' .. id)
        redis.call('HDEL', prefix .. 'deliveries', id)
        redis.call('HSET', wf_key(prefix, run, ':state'), node, 'cancelled')
      end
    end
  end
end

local function wf_errbacks(prefix, run, node, info, now)
  -- Enqueue the failing node's error callback and the workflow's, each with the failure info.
  local meta = wf_key(prefix, run, '')
  local ttl_ms = tonumber(redis.call('HGET', meta, 'ttl_ms'))
  local node_spec = cjson.decode(redis.call('HGET', wf_key(prefix, run, ':spec'), node))
  local run_handler = cjson.decode(redis.call('HGET', meta, 'on_error'))
  local handlers = {{node_spec.e, run .. ':err:' .. node}, {run_handler, run .. ':err'}}
  for _, h in ipairs(handlers) do
    local spec, id = h[1], h[2]
    if spec ~= nil and spec ~= cjson.null then
      local input = spec.i and info or ''
      wf_enqueue(prefix, spec.q, id, spec.pre .. input .. spec.post .. now .. '}', now, ttl_ms)
    end
  end
end

local function wf_fail(prefix, run, node, err, info, now)
  -- Fail the run because `node` failed: nothing pending starts, error callbacks run once.
  redis.call('HSET', wf_key(prefix, run, ':state'), node, 'failed')
  redis.call('HSET', wf_key(prefix, run, ':errors'), node, err)
  redis.call('HSET', wf_key(prefix, run, ''), 'error', err, 'failed_node', node)
  wf_sweep(prefix, run, false, now)
  wf_errbacks(prefix, run, node, info, now)
  wf_end(prefix, run, 'failed', now)
end

local function wf_dead_letter(prefix, id, deliveries, now)
  -- A workflow node was dead-lettered: fail its run (if it is one and still running).
  local run, node = string.match(id, '^(.*):(%d+)$')
  if run == nil or redis.call('HGET', wf_key(prefix, run, ''), 'state') ~= 'running' then return end
  local spec = cjson.decode(redis.call('HGET', wf_key(prefix, run, ':spec'), node) or '{}')
  local msg = 'job ' .. id .. ' was dead-lettered after ' .. deliveries .. ' deliveries without finishing'
  local err = cjson.encode({__aq__ = 'exc', type = 'MaxTriesExceeded', module = 'aqueue.errors',
    message = msg, args = {msg}, traceback = ''})
  local info = cjson.encode({run_id = run, node = tonumber(node), task = spec.task, job_id = id,
    exc_type = 'MaxTriesExceeded', message = msg, traceback = ''})
  wf_fail(prefix, run, node, err, info, now)
  aq_hook_enqueued(prefix, '', now) -- the error callbacks wf_fail enqueued
end
