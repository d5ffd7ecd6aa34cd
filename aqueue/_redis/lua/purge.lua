-- Remove up to `batch` waiting jobs of a queue: queued and deferred ones (priority 0 in the queue,
-- others in its ready and delayed sets, grouped ones in their groups', and those an extension holds
-- back: aq_hook_purge), with their job keys; running jobs stay.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, start (the queue's rank to look from: running jobs before it were skipped),
--   batch (entries looked at in this call)
-- Reply: {removed, next start}; next start is -1 once everything was looked at.
local prefix, queue = ARGV[1], ARGV[2]
local start, batch = tonumber(ARGV[3]), tonumber(ARGV[4])
local removed, gone = 0, {}
local function forget(id)
  gone[#gone + 1] = prefix .. 'job:' .. id
  gone[#gone + 1] = prefix .. 'retry:' .. id
  redis.call('HDEL', prefix .. 'deliveries', id)
  removed = removed + 1
end
for _, key in ipairs({prefix .. 'ready:' .. queue, prefix .. 'delayed:' .. queue}) do
  local ids = redis.call('ZRANGE', key, 0, batch - 1)
  for _, id in ipairs(ids) do forget(id) end
  aq_batched('ZREM', {key}, ids)
end
for _, id in ipairs(aq_group_purge(prefix, queue, batch)) do forget(id) end
for _, id in ipairs(aq_hook_purge(prefix, queue, batch)) do forget(id) end
local ids = redis.call('ZRANGE', queue, start, start + batch - 1)
local waiting = {}
for _, id in ipairs(ids) do
  if redis.call('EXISTS', prefix .. 'in-progress:' .. id) == 1 then
    start = start + 1 -- running: it stays, and so keeps its rank
  else
    waiting[#waiting + 1] = id
    forget(id)
  end
end
aq_batched('ZREM', {queue}, waiting)
aq_batched('DEL', {}, gone)
local more = #ids == batch or redis.call('EXISTS', prefix .. 'ready:' .. queue, prefix .. 'delayed:' .. queue,
  prefix .. 'groups:' .. queue, prefix .. 'blocked:' .. queue) > 0
return {removed, more and start or -1}
