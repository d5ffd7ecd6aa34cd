"""The worker side of the cron benchmark: one every-second job that records its lateness."""

from __future__ import annotations

import time
from typing import Any

from aqueue import cron, task

SAMPLES = "bench:cron:samples"


@task
async def tick(ctx: dict[str, Any]) -> None:
    """Record (start − slot, enqueue − slot) in ms, and which worker ran it."""
    started = time.time()
    slot = ctx["scheduled_time"].timestamp()
    enqueued = ctx["enqueue_time"].timestamp()
    sample = f"{(started - slot) * 1000:.3f} {(enqueued - slot) * 1000:.3f} {ctx['worker_id']} {slot:.3f}"
    await ctx["redis"].rpush(SAMPLES, sample)


class Settings:
    """Every worker carries the same schedule; each slot must run once."""

    functions = [tick]
    cron_jobs = [cron("* * * * * *", tick, name="every-second")]
    max_jobs = 10
