-- The limits layer's part of the enqueue scripts (aqueue/limits/; limits.lua follows it in a
-- worker's claim, finish and renew scripts): a job of a limited task is never handed straight to an
-- idle worker, so that the claim admits it.

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
