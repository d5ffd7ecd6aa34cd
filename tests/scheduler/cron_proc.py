"""Worker settings for the real-time cron test (imported by worker *child processes*).

Run as ``python -m aqueue worker tests.scheduler.cron_proc.Settings``; Redis comes from
``AQUEUE_REDIS_URL``. Every run appends ``slot_ms:start_ms:pid`` to the list ``cronproc:ticks``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aqueue.scheduler import cron, slot_id


async def record_tick(ctx: dict[str, Any]) -> None:
    """Record the slot this run is for, when it started and which process ran it."""
    started = int(time.time() * 1000)
    await ctx["redis"].rpush("cronproc:ticks", f"{slot_id(ctx['scheduled_time'])}:{started}:{os.getpid()}")


class Settings:
    """One every-second cron job; every worker process carries it."""

    functions: list[Any] = []
    cron_jobs = [cron("* * * * * *", record_tick, name="tick")]
    max_jobs = 10
    job_completion_wait = 2
