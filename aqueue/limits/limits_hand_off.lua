-- The limits layer's part of every client's scripts (aqueue/limits/; limits.lua follows it in a
-- worker's claim, finish and renew scripts): a job of a limited task is never handed straight to an
-- idle worker, so that the claim admits it; an abort or a purge lets go of held-back jobs.

local function lim_task(payload)
  -- Return the task name of a job payload (aqueue's JSON envelope), and the decoded payload if it
  -- had to be decoded; nil for a payload that is not JSON (a pickled plain-arq job: no limits).
  local name = string.match(payload, '^{"t":[%w]+,"f":"([^"\\]*)"')
  if name then return name, nil end
  local ok, data = pcall(cjson.decode, payload)
  if ok and type(data) == 'table' and type(data.f) == 'string' then return data.f, data end
  return nil, nil
end

local lim_any = nil

local function lim_may_hand_off(prefix, queue, id, payload)
  -- A job of a limited task is not handed straight to an idle worker: the claim admits it.
  if lim_any == nil then lim_any = redis.call('EXISTS', prefix .. 'limits') == 1 end
  if not lim_any then return true end
  local name = lim_task(payload)
  return not name or redis.call('HEXISTS', prefix .. 'limits', name) == 0
end

local function lim_withdraw(prefix, queue, id)
  -- Let go of held-back job `id` (abort.lua): returns whether it was held back.
  local entry = redis.call('HGET', prefix .. 'waiting', id)
  if not entry then return false end
  local member = string.match(entry, '^[^\n]*\n(.*)$')
  redis.call('HDEL', prefix .. 'waiting', id)
  return redis.call('ZREM', prefix .. 'wait:' .. member, id) == 1
end

local function lim_take(prefix, queue, scope, count)
  -- Take the first `count` jobs `scope` holds back on `queue` out of its wait set (the scope leaves
  -- {prefix}blocked:{queue} once none is left); return the wait set's key and the jobs, a flat id,
  -- arrival-order list (limits.lua gives them back, lim_purge drops them).
  local wait = prefix .. 'wait:' .. queue .. '\n' .. scope
  local rows = redis.call('ZRANGE', wait, 0, count - 1, 'WITHSCORES')
  local ids = {}
  for i = 1, #rows, 2 do ids[#ids + 1] = rows[i] end
  if #ids > 0 then redis.call('ZREM', wait, unpack(ids)) end
  if redis.call('EXISTS', wait) == 0 then redis.call('ZREM', prefix .. 'blocked:' .. queue, scope) end
  return wait, rows
end

local function lim_purge(prefix, queue, batch)
  -- Let go of up to `batch` held-back jobs of `queue` (purge.lua); returns their ids.
  local ids = {}
  for _, scope in ipairs(redis.call('ZRANGE', prefix .. 'blocked:' .. queue, 0, -1)) do
    if #ids >= batch then break end
    local _, rows = lim_take(prefix, queue, scope, batch - #ids)
    for i = 1, #rows, 2 do ids[#ids + 1] = rows[i] end
  end
  aq_batched('HDEL', {prefix .. 'waiting'}, ids)
  return ids
end
