-- Enqueue a batch of jobs, arq-style: skip an id whose job or result key exists.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, now_ms, check_ids (1: skip ids that exist; 0: the ids are fresh random ones,
--   nothing to check), priority (0-9, for every job of the batch), group ('' none; with priority 0
--   only), then per job 4 fields: job_id, payload, score, ttl_ms (0: no expiry)
-- A due job is handed straight to an idle worker when there is one; the idle workers left are woken
-- only if a written job was not handed over (a deferred one may be due before their next poll).
-- Priority 0 jobs go to the queue as arq puts them; a job of priority 1-9 that is not handed over
-- goes to {prefix}ready:{queue} if due (ordered by priority, then FIFO) or {prefix}delayed:{queue}
-- if deferred (see priority_lib.lua, which claim.lua uses to promote it when due); a job of a group
-- goes to its group (group_lib.lua).
-- A job the extensions' may_hand_off hooks keep from a handoff (a rate-limited task's) is queued.
-- Written jobs run the extensions' on_enqueue hooks (aq_hook_enqueue), the call their on_enqueue_batch.
-- Reply: per job, 1 (written) or 0 (its id exists).
local prefix, queue, now, check_ids = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local priority, group = tonumber(ARGV[5]), ARGV[6]
local handing = true -- false once no worker is idle: nobody is left to hand to or to wake
local unhanded = false
local seq -- the next FIFO number in the ready set (priority > 0), taken for the batch at once
local out = {}
for i = 7, #ARGV, 4 do
  local id, payload, score = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local written = aq_store_job(prefix, id, payload, ARGV[i + 3], not check_ids)
  if written == 1 then
    aq_hook_enqueue(prefix, queue, id, payload, now) -- extensions' on_enqueue (the events layer)
    local handed, due = false, tonumber(score) <= now
    if handing and due and aq_hook_may_hand_off(prefix, queue, id, payload) then
      handed = aq_handoff(prefix, queue, id, payload, now, priority)
      handing = handed ~= false
    end
    if handed ~= 'claimed' then -- queue it ourselves (a claim queues it at its lease end)
      if group ~= '' then
        aq_group_add(prefix, queue, group, id, tonumber(score))
      elseif priority == 0 then
        redis.call('ZADD', queue, score, id)
      elseif due then
        seq = seq or redis.call('INCRBY', prefix .. 'ready-seq:' .. queue, (#ARGV - 6) / 4) - (#ARGV - 6) / 4
        seq = seq + 1
        -- (9 - p) * 2^49 + 2^48 + seq: priority_lib.lua's ready score
        redis.call('ZADD', prefix .. 'ready:' .. queue, (9 - priority) * 562949953421312 + 281474976710656 + seq,
          id)
      else
        redis.call('ZADD', prefix .. 'delayed:' .. queue, tonumber(score) * 16 + priority, id)
      end
      unhanded = unhanded or (handing and not handed)
    end
  end
  out[#out + 1] = written
end
if handing and unhanded then aq_wake(prefix, queue) end
aq_hook_enqueued(prefix, queue, now)
return out
