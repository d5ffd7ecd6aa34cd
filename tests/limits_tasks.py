"""Tasks with flow limits for the worker *child processes* of ``test_limits.py``.

Run as ``python -m aqueue worker tests.limits_tasks.SoloSettings``; Redis comes from
``AQUEUE_REDIS_URL``. Each start is recorded in Redis (``lim:starts``: ``tag:pid:try``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aqueue import task


@task(concurrency=1)
async def solo(ctx: dict[str, Any], tag: str, seconds: float) -> str:
    """Record the start, sleep ``seconds`` (or ``lim:seconds:{tag}`` if set), return the tag."""
    r = ctx["redis"]
    await r.rpush("lim:starts", f"{tag}:{os.getpid()}:{ctx['job_try']}")
    override = await r.get(f"lim:seconds:{tag}")
    await asyncio.sleep(float(override) if override is not None else seconds)
    return tag


@task
async def tenant(ctx: dict[str, Any], group: str) -> str:
    """Record the group's turn in ``lim:order``."""
    await ctx["redis"].rpush("lim:order", group)
    return group


class SoloSettings:
    """One limited task, a 1 s lease (so a dead worker's slot frees fast)."""

    functions = [solo, tenant]
    lease_s = 1.0
    max_jobs = 4
