"""Cron punctuality: how close to its slot a scheduled job is enqueued and started."""
