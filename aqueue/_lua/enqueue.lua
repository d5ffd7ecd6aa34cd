-- Enqueue a batch of jobs, arq-style: skip an id whose job or result key exists.
-- KEYS: none (derived).  ARGV: prefix, queue, now_ms, then per job: id, payload, score, expires_ms
-- (0: no expiry).
-- A due job is handed straight to an idle worker when there is one. Returns one 1 (written) or 0
-- (duplicate id) per job.
local prefix, queue, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local handing = true
local out = {}
for i = 4, #ARGV, 4 do
  local id, payload, score = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local written = aq_write_job(prefix, queue, id, payload, score, ARGV[i + 3])
  if written == 1 and handing and tonumber(score) <= now then
    handing = aq_handoff(prefix, queue, id, payload, now)
  end
  out[#out + 1] = written
end
aq_wake(prefix, queue)
return out
