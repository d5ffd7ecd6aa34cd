-- Fair groups (enqueue(..., _group=G)) in the claim (claim.lua) and the enqueue (enqueue.lua), after
-- lib.lua. None of it runs for a queue without groups: one EXISTS tells (with the plain path's).
--
-- A job of group G waits in {prefix}group:{queue}\n{G} (job id -> run-at ms) instead of the queue
-- itself (a plain arq worker does not see it there), and {prefix}groups:{queue} holds each group
-- that has jobs, scored by its turn: the run-at of its first job, or, once served, the time it was
-- served (plus a thousandth of a ms per job served in the same claim), whichever is later. A claim
-- takes the group whose turn is earliest among the due ones, one job, and moves it behind the
-- others: round robin over the groups with due jobs, so a group's backlog delays another group's
-- jobs by one job per group and round. Claimed, a job sits in the queue at its lease end like any
-- other; if its lease lapses or it is retried it comes back through the queue (not its group).

local AQ_TURN = 0.001 -- a turn's step within one claim call (ms)

local function aq_group_set(prefix, queue, group)
  return prefix .. 'group:' .. queue .. '\n' .. group
end

local function aq_group_add(prefix, queue, group, id, score)
  -- Queue job `id` in its group at run-at `score`; the group takes its turn no later than that.
  redis.call('ZADD', aq_group_set(prefix, queue, group), score, id)
  redis.call('ZADD', prefix .. 'groups:' .. queue, 'LT', score, group)
end

local function aq_group_take(prefix, queue, now, turn)
  -- Take the first due job of the group whose turn it is (the `turn`-th taken in this call) and
  -- move the group behind the others. Returns the job id and its run-at, or nil if no group has a
  -- due job.
  local groups = prefix .. 'groups:' .. queue
  for _ = 1, 100 do -- past groups found empty or not due after all (their turn is fixed on the way)
    local row = redis.call('ZRANGEBYSCORE', groups, '-inf', now + 0.999, 'LIMIT', 0, 1)
    if #row == 0 then return nil end
    local group = row[1]
    local set = aq_group_set(prefix, queue, group)
    local head = redis.call('ZRANGE', set, 0, 1, 'WITHSCORES')
    if #head == 0 then
      redis.call('ZREM', groups, group)
    elseif tonumber(head[2]) > now then
      redis.call('ZADD', groups, head[2], group)
    else
      redis.call('ZREM', set, head[1])
      if head[3] then
        redis.call('ZADD', groups, math.max(tonumber(head[4]), now) + turn * AQ_TURN, group)
      else
        redis.call('ZREM', groups, group)
      end
      return head[1], head[2]
    end
  end
  return nil
end

local function aq_group_withdraw(prefix, queue, id)
  -- Take job `id` out of its group's set (abort.lua); returns whether it was there.
  local payload = redis.call('GET', prefix .. 'job:' .. id)
  local ok, data = pcall(cjson.decode, payload or '')
  local group = ok and type(data) == 'table' and data.g
  if type(group) ~= 'string' then return false end
  return redis.call('ZREM', aq_group_set(prefix, queue, group), id) == 1
end

local function aq_group_purge(prefix, queue, batch)
  -- Take up to `batch` jobs out of the queue's groups (purge.lua); returns their ids.
  local groups, ids = prefix .. 'groups:' .. queue, {}
  for _, group in ipairs(redis.call('ZRANGE', groups, 0, batch - 1)) do
    if #ids >= batch then break end
    local set = aq_group_set(prefix, queue, group)
    local some = redis.call('ZRANGE', set, 0, batch - #ids - 1)
    for _, id in ipairs(some) do ids[#ids + 1] = id end
    aq_batched('ZREM', {set}, some)
    if redis.call('EXISTS', set) == 0 then redis.call('ZREM', groups, group) end
  end
  return ids
end

local function aq_group_next_turn(prefix, queue)
  -- When the earliest group turn of `queue` is (ms), or nil.
  local head = redis.call('ZRANGE', prefix .. 'groups:' .. queue, 0, 0, 'WITHSCORES')
  return head[2] and math.floor(tonumber(head[2])) or nil
end
