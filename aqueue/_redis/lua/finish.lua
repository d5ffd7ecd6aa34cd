-- Record a batch of outcomes, each only if its fencing token still holds the job's claim.
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue, note (for the on_finish_batch hooks; '' none), then per outcome 6 fields: job_id, token, kind ('ok' | 'err' | 'retry'),
--   result (the encoded result envelope; '' keeps none), ttl_ms (of the result; -1: forever),
--   retry_score (when a retry is due).
-- Each recorded outcome runs the extensions' on_attempt_end hooks at once (aq_hook_attempt_end), then the extensions' on_finish hooks (aq_hook_finish), in order, and
-- the batch their on_finish_batch hooks (aq_hook_finished).
-- Reply: per outcome, 1 (recorded) or 0 (fenced: the claim was lost).
local prefix, queue, note = ARGV[1], ARGV[2], ARGV[3]
local ids, count = {}, 0
for i = 4, #ARGV, 6 do
  count = count + 1
  ids[count] = ARGV[i]
end
local ips, tokens = aq_claims(prefix, ids)
local out, recorded = {}, {}
local holding = aq_hook_holding(prefix) -- an attempt holds something of an extension's (a slot)
for n, id in ipairs(ids) do
  local i = 4 + 6 * (n - 1)
  local held = tokens[n] == ARGV[i + 1] and ARGV[i + 1]
  out[n] = aq_finish(prefix, queue, id, ips[n], held, ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5])
  if out[n] == 1 then
    recorded[#recorded + 1] = i
    if holding then aq_hook_attempt_end(prefix, queue, id) end
  end
end
aq_flush(prefix, queue)
for _, i in ipairs(recorded) do -- once the batch's deletions are done, as if each job finished alone
  aq_hook_finish(prefix, queue, ARGV[i], ARGV[i + 2])
end
aq_hook_finished(prefix, queue, note, out) -- extensions' on_finish_batch (the events layer)
return out
