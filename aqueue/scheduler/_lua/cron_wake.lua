-- Wake the idle workers of a queue (the cron runner calls it at a slot it enqueued ahead of time).
-- KEYS: none (derived from the prefix).
-- ARGV: prefix, queue
-- Reply: how many workers were woken.
return aq_wake(ARGV[1], ARGV[2])
