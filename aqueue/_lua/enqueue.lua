-- Enqueue a batch of jobs, arq-style: skip an id whose job or result key exists.
-- KEYS: none (derived).  ARGV: prefix, queue, now_ms, then per job: id, payload, score, expires_ms
-- (0: no expiry).
-- A due job is handed straight to an idle worker when there is one; the idle workers left are woken
-- only if a written job was not handed over (a deferred one may be due before their next poll).
-- Returns one 1 (written) or 0 (duplicate id) per job.
local prefix, queue, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local handing = true -- false once no worker is idle: nobody is left to hand to or to wake
local unhanded = false
local out = {}
for i = 4, #ARGV, 4 do
  local id, payload, score = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local written = aq_write_job(prefix, queue, id, payload, score, ARGV[i + 3])
  if written == 1 and handing then
    if tonumber(score) <= now then
      handing = aq_handoff(prefix, queue, id, payload, now)
    else
      unhanded = true
    end
  end
  out[#out + 1] = written
end
if handing and unhanded then aq_wake(prefix, queue) end
return out
