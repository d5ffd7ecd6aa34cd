-- Fair groups (enqueue(..., _group=G)) in the claim (claim.lua) and the enqueue (enqueue.lua), after
-- lib.lua. None of it runs for a queue without groups: one EXISTS tells (with the plain path's).
--
-- A job of group G waits in {prefix}group:{queue}\n{G} (job id -> run-at ms) instead of the queue
-- itself (a plain arq worker does not see it there), and {prefix}groups:{queue} holds each group
-- that has jobs, scored by its turn: the run-at of its first job, or, once served, the time it was
-- served (plus one per group served in the same claim), whichever is later, in 1/1024 ms (whole
-- numbers: Redis compares them without parsing, where fractions cost a strtod per entry). A
-- claim call with room for n jobs shares them among the due groups with the earliest turns (and the
-- queue's own ungrouped jobs), takes each group's share oldest first, interleaves them one per group,
-- and moves the served groups behind the others: round robin over the groups with due jobs, so a
-- group's backlog delays another group's jobs by at most one claim's share per round. Claimed, a job sits in the queue at its lease end like any
-- other; if its lease lapses or it is retried it comes back through the queue (not its group).

local AQ_TURNS = 1024 -- turn scores are ms * AQ_TURNS + the order served within one claim call

local function aq_group_set(prefix, queue, group)
  return prefix .. 'group:' .. queue .. '\n' .. group
end

local function aq_group_add(prefix, queue, group, id, score)
  -- Queue job `id` in its group at run-at `score`; the group takes its turn no later than that.
  redis.call('ZADD', aq_group_set(prefix, queue, group), score, id)
  redis.call('ZADD', prefix .. 'groups:' .. queue, 'LT', score * AQ_TURNS, group)
end

local function aq_group_pop(prefix, queue, group, count, now)
  -- Take up to `count` due jobs of one group, oldest first: {id, run-at} each; and the group's next
  -- turn (nil: it may be empty: the next claim looks). Jobs popped but not due go back.
  local set = aq_group_set(prefix, queue, group)
  local rows = redis.call('ZPOPMIN', set, count)
  local jobs, later = {}, {}
  for i = 1, #rows, 2 do
    if tonumber(rows[i + 1]) <= now then
      jobs[#jobs + 1] = {rows[i], rows[i + 1]}
    else
      later[#later + 1] = rows[i + 1]
      later[#later + 1] = rows[i]
    end
  end
  if #later > 0 then
    aq_batched('ZADD', {set}, later)
    return jobs, tonumber(later[1])
  end
  return jobs, (#rows == 2 * count) and now or nil
end

local function aq_group_round(prefix, queue, now, room, own)
  -- The next `room` candidates of a queue with groups, in turn: the due groups with the earliest
  -- turns share the room (with the queue's own due jobs, `own`: a flat id, score list, as one more
  -- share), and their jobs are interleaved one per group. Returns {id, score, group (nil: the
  -- queue's own)} each, out of their sets (aq_group_return puts back what the caller leaves); each
  -- served group's turn moves behind the others (served ones in the order they were served).
  local groups = prefix .. 'groups:' .. queue
  local due = redis.call('ZRANGEBYSCORE', groups, '-inf', now * AQ_TURNS + AQ_TURNS - 1, 'LIMIT', 0, room)
  local sharing = #due + ((#own > 0) and 1 or 0)
  if sharing == 0 then return {} end
  local share = math.ceil(room / sharing)
  local lists, turns, gone = {}, {}, {}
  for n, group in ipairs(due) do
    local jobs, next_turn = aq_group_pop(prefix, queue, group, share, now)
    lists[n] = jobs
    if next_turn then
      turns[#turns + 1] = math.max(next_turn, now) * AQ_TURNS + math.min(n, AQ_TURNS - 1)
      turns[#turns + 1] = group
    else
      gone[#gone + 1] = group
    end
  end
  aq_batched('ZADD', {groups}, turns)
  aq_batched('ZREM', {groups}, gone)
  local mine = {}
  for i = 1, math.min(#own, 2 * share), 2 do mine[#mine + 1] = {own[i], own[i + 1]} end
  lists[#lists + 1] = mine
  local out = {}
  for r = 1, share do
    for n, jobs in ipairs(lists) do
      local job = jobs[r]
      if job then out[#out + 1] = {job[1], job[2], jobs ~= mine and due[n] or nil} end
    end
  end
  return out
end

local function aq_group_return(prefix, queue, jobs)
  -- Put back candidates aq_group_round took but the claim did not get to ({id, score, group} each).
  for _, job in ipairs(jobs) do
    if job[3] then aq_group_add(prefix, queue, job[3], job[1], tonumber(job[2])) end
  end
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
  return head[2] and math.floor(tonumber(head[2]) / AQ_TURNS) or nil
end
