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
  local jkey = prefix .. 'job:' .. id
  if redis.call('EXISTS', jkey, prefix .. 'result:' .. id) > 0 then return 0 end
  redis.call('SET', jkey, payload, 'PX', ttl_ms)
  redis.call('ZADD', queue, now, id)
  aq_wake(prefix, queue)
  return 1
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
        redis.call('HSET', wf_key(prefix, run, ':state'), node, 'cancelled')
      end
    end
  end
end
