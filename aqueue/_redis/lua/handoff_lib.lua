-- Taking back handed-over jobs (claim.lua, release.lua), after lib.lua.

local function aq_parse_handoff(message)
  -- Return id, try (and for a worker on several queues, the queue) of a handed-over job message,
  -- or nil for a plain wake-up.
  local tries, idlen, rest = string.match(message, '^J(%d+):(%d+):(.*)$')
  if tries then return string.sub(rest, 1, tonumber(idlen)), tonumber(tries) end
  local qlen
  tries, idlen, qlen, rest = string.match(message, '^K(%d+):(%d+):(%d+):(.*)$')
  if not tries then return nil end
  idlen = tonumber(idlen)
  return string.sub(rest, 1, idlen), tonumber(tries), string.sub(rest, idlen + 1, idlen + tonumber(qlen))
end

local function aq_take_handoffs(prefix, queue, worker, lease, now)
  -- Drain this worker's wake list; return the handed-over jobs it still holds (leases refreshed):
  -- {id, try, its queue (nil: `queue`)} each.
  local wake_key = prefix .. 'wake:' .. worker
  local messages = redis.call('LRANGE', wake_key, 0, -1)
  local held = {}
  if #messages > 0 then redis.call('DEL', wake_key) end
  for _, message in ipairs(messages) do
    local id, tries, from = aq_parse_handoff(message)
    local ip = id and (prefix .. 'in-progress:' .. id)
    if ip and redis.call('GET', ip) == worker .. ':' .. tries then
      redis.call('PEXPIRE', ip, lease)
      redis.call('ZADD', from or queue, 'XX', now + lease, id)
      held[#held + 1] = {id, tries, from}
    end
  end
  return held
end

local function aq_undeliver(prefix, id)
  -- Forget the latest delivery of `id` (handed back unfinished): no try, no dead-letter history.
  local dkey, rkey = prefix .. 'deliveries', prefix .. 'retry:' .. id
  local last, entries = aq_history(redis.call('HGET', dkey, id))
  local rest = entries and string.match(entries, '^(.-)%s+%S+%s*$')
  if rest then redis.call('HSET', dkey, id, (last - 1) .. ' ' .. rest) else redis.call('HDEL', dkey, id) end
  -- a try after the first set the counter to itself (aq_claim_for): one back
  if last > 1 and tonumber(redis.call('GET', rkey) or '0') >= last then redis.call('DECR', rkey) end
end
