"""The task functions both aqueue and arq workers run in the benchmarks (same names on both)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

#: Filled by ``pickup``: seconds from the producer's clock reading before enqueue to the task's start.
PICKUP_LATENCIES: list[float] = []
#: Redis list where ``hold`` announces each start as "pid time".
STARTS_KEY = "bench:starts"


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def pickup(ctx: dict[str, Any], enqueued_at: float) -> None:
    PICKUP_LATENCIES.append(time.time() - enqueued_at)


async def stamp(ctx: dict[str, Any]) -> float:
    """Return the wall clock at the end of the task (the producer compares it to when result() returned)."""
    return time.time()


async def hold(ctx: dict[str, Any]) -> None:
    """Announce the start, then sit on the job (its timeout is 300 s) until the process dies."""
    await ctx["redis"].rpush(STARTS_KEY, f"{os.getpid()} {time.time()}")
    await asyncio.sleep(3600)


ALL = [noop, pickup, stamp, hold]
HOLD_TIMEOUT_S = 300
