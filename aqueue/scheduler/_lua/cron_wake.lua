-- Wake the idle workers of a queue (the cron runner calls it at a slot it enqueued ahead of time).
-- ARGV: prefix, queue. Returns how many workers were woken.
return aq_wake(ARGV[1], ARGV[2])
