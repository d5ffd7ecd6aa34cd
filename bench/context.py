"""What every measurement gets: the server URL, a Redis client for bookkeeping, and the run's sizes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from bench.meter import redis_cpu_s


@dataclass(frozen=True)
class Sizes:
    enqueue_one: int
    enqueue_batch: int
    drain: int
    scaling_procs: tuple[int, ...]
    pickup: int
    pickup_gap_s: float
    result: int
    result_budget_s: float  # per peer: arq's 0.5 s result polling makes 500 waits take minutes
    kill_cap_s: float  # how long to wait for a killed worker's job to start again


FULL = Sizes(
    enqueue_one=5_000,
    enqueue_batch=20_000,
    drain=20_000,
    scaling_procs=(1, 2, 4),
    pickup=500,
    pickup_gap_s=0.02,
    result=500,
    result_budget_s=15,
    kill_cap_s=20,
)
QUICK = Sizes(
    enqueue_one=1_000,
    enqueue_batch=5_000,
    drain=4_000,
    scaling_procs=(1, 2, 4),
    pickup=100,
    pickup_gap_s=0.02,
    result=100,
    result_budget_s=3,
    kill_cap_s=5,
)


@dataclass
class Ctx:
    url: str
    redis: Redis
    sizes: Sizes

    async def flush(self) -> None:
        await self.redis.flushall()

    async def redis_cpu(self) -> float:
        """Return redis-server's CPU seconds so far (``INFO cpu``: used_cpu_user + used_cpu_sys)."""
        return redis_cpu_s(await self.redis.info("cpu"))

    async def wait_empty(self, queue_key: str, timeout: float, interval: float = 0.005) -> float:
        """Poll ZCARD until ``queue_key`` is empty; return the wall-clock time it was seen empty."""
        deadline = time.monotonic() + timeout
        while await self.redis.zcard(queue_key):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{queue_key} still has jobs after {timeout}s")
            await asyncio.sleep(interval)
        return time.time()
