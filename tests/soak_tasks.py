"""The task and worker settings of the chaos soak's worker *child processes* (``test_chaos_soak.py``).

Run as ``python -m aqueue worker tests.soak_tasks.SoakSettings``; the broker comes from
``AQUEUE_REDIS_URL``. Each attempt writes its start and its end to a side channel, a second Redis at
``AQUEUE_SOAK_SIDE_URL`` that the soak never kills, so the test can count executions per job even
across restarts of the broker.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

import redis.asyncio as aredis

from aqueue import task

SIDE_ENV = "AQUEUE_SOAK_SIDE_URL"
STARTS = "soak:starts"
ENDS = "soak:ends"


def attempt(ctx: dict[str, Any]) -> str:
    """Return ``job_id try pid time`` for this attempt, as the side channel stores it."""
    return f"{ctx['job_id']} {ctx['job_try']} {os.getpid()} {time.time():.6f}"


@task(timeout=60)
async def soak(ctx: dict[str, Any], n: int) -> dict[str, int]:
    """Record the start, work for 5-150 ms, record the end; return 2n and who computed it."""
    side: aredis.Redis = ctx["side"]
    await side.rpush(STARTS, attempt(ctx))
    await asyncio.sleep(random.uniform(0.005, 0.15))
    await side.rpush(ENDS, attempt(ctx))
    return {"v": 2 * n, "pid": os.getpid(), "try": ctx["job_try"]}


async def open_side(ctx: dict[str, Any]) -> None:
    """Connect to the side channel."""
    ctx["side"] = aredis.from_url(os.environ[SIDE_ENV])


async def close_side(ctx: dict[str, Any]) -> None:
    """Close the side channel."""
    await ctx["side"].aclose()


class SoakSettings:
    """Short leases, so that a killed or frozen worker's jobs come back within three seconds.

    Not shorter: on a loaded machine a healthy worker's loop can stall for a second, and it must
    still renew its leases in time (they are renewed every second).
    """

    functions = [soak]
    on_startup = open_side
    on_shutdown = close_side
    lease_s = 3.0
    max_jobs = 20
    poll_delay = 0.5
