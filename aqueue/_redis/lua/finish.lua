-- Record a batch of outcomes. ARGV: prefix, queue, then per job: id, token, kind, result, ttl_ms, retry_score.
-- Returns one 1 (recorded) or 0 (fenced: the claim was lost) per job.
local prefix, queue = ARGV[1], ARGV[2]
-- Each recorded outcome then runs the extensions' on_finish hooks (aq_hook_finish).
local out = {}
for i = 3, #ARGV, 6 do
  local recorded = aq_finish(prefix, queue, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3],
    tonumber(ARGV[i + 4]), ARGV[i + 5])
  if recorded == 1 then aq_hook_finish(prefix, queue, ARGV[i], ARGV[i + 2]) end
  out[#out + 1] = recorded
end
return out
