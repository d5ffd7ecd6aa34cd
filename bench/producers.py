"""Producer-side adapters: the same few operations on an aqueue ``Client`` and on an arq pool.

Each adapter also holds a redis-py connection of its own for ``INFO cpu``, so its timed loops report
Redis CPU per job wherever they run: in the benchmark process, or in an A/B producer child
(``bench.producer_child``, which runs these adapters on the aqueue of its side).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import expires_extra_ms, job_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import Redis

import aqueue
from bench.meter import redis_cpu_s, timed
from bench.peers import Peer

#: arq has no batch enqueue: the batch benchmark keeps this many ``enqueue_job`` calls in flight.
ARQ_IN_FLIGHT = 100


class Producer:
    """The timed loops every adapter shares, on top of its ``enqueue`` and ``enqueue_batch``."""

    def __init__(self, meter: Redis):
        self.meter = meter

    async def enqueue(self, name: str, *args: Any) -> Any:
        raise NotImplementedError

    async def enqueue_batch(self, name: str, n: int) -> None:
        raise NotImplementedError

    async def redis_cpu(self) -> float:
        """Return redis-server's CPU seconds so far (``INFO cpu``)."""
        return redis_cpu_s(await self.meter.info("cpu"))

    async def warm_up(self, n: int) -> None:
        """Enqueue ``n`` no-ops, untimed (connections, script load)."""
        for _ in range(n):
            await self.enqueue("noop")

    async def timed_one(self, n: int) -> dict[str, float]:
        """Enqueue ``n`` no-ops one ``await`` at a time; return jobs/s, producer and Redis CPU µs/job."""

        async def one_by_one() -> None:
            for _ in range(n):
                await self.enqueue("noop")

        return await timed(n, one_by_one, self.redis_cpu)

    async def timed_batch(self, n: int) -> dict[str, float]:
        """Enqueue ``n`` no-ops as a batch; return jobs/s, producer and Redis CPU µs/job."""
        return await timed(n, lambda: self.enqueue_batch("noop", n), self.redis_cpu)

    async def paced_pickups(self, n: int, gap_s: float) -> list[float]:
        """Enqueue ``n`` pickup jobs ``gap_s`` apart, each carrying the clock read just before its call;
        return how long each enqueue call took (s)."""
        start, calls = time.monotonic(), []
        for i in range(n):
            t0 = time.time()
            await self.enqueue("pickup", t0)
            calls.append(time.time() - t0)
            await asyncio.sleep(max(0.0, start + (i + 1) * gap_s - time.monotonic()))
        return calls


class AqueueProducer(Producer):
    def __init__(self, client: aqueue.Client, meter: Redis):
        super().__init__(meter)
        self.client = client

    async def enqueue(self, name: str, *args: Any) -> Any:
        return await self.client.enqueue(name, *args)

    async def enqueue_batch(self, name: str, n: int) -> None:
        await self.client.enqueue_many(name, [() for _ in range(n)])

    async def prefill(self, name: str, n: int) -> None:
        await self.enqueue_batch(name, n)

    async def result(self, job: Any, timeout: float) -> Any:
        return await job.result(timeout=timeout)


class ArqProducer(Producer):
    def __init__(self, pool: ArqRedis, queue: str, meter: Redis):
        super().__init__(meter)
        self.pool, self.queue = pool, queue

    async def enqueue(self, name: str, *args: Any) -> Any:
        return await self.pool.enqueue_job(name, *args)

    async def enqueue_batch(self, name: str, n: int) -> None:
        """Gathered ``enqueue_job`` calls, ARQ_IN_FLIGHT at a time (each is a WATCH/MULTI transaction)."""
        gate = asyncio.Semaphore(ARQ_IN_FLIGHT)

        async def one() -> None:
            async with gate:
                await self.pool.enqueue_job(name)

        await asyncio.gather(*(one() for _ in range(n)))

    async def prefill(self, name: str, n: int, chunk: int = 1000) -> None:
        """Untimed set-up: write exactly the keys ``enqueue_job`` writes, pipelined, without its WATCH."""
        now = int(time.time() * 1000)
        for start in range(0, n, chunk):
            async with self.pool.pipeline(transaction=False) as pipe:
                for _ in range(start, min(start + chunk, n)):
                    job_id = uuid.uuid4().hex
                    payload = serialize_job(name, (), {}, None, now)
                    pipe.psetex(job_key_prefix + job_id, expires_extra_ms, payload)
                    pipe.zadd(self.queue, {job_id: now})
                await pipe.execute()

    async def result(self, job: Any, timeout: float) -> Any:
        return await job.result(timeout=timeout)  # arq's default poll_delay=0.5 s


@contextlib.asynccontextmanager
async def producer(peer: Peer, url: str) -> AsyncIterator[AqueueProducer | ArqProducer]:
    """Open ``peer``'s producer in this process (aqueue: a ``Client``; arq: a pool) and its meter."""
    meter = Redis.from_url(url)
    try:
        if peer.impl == "aqueue":
            async with aqueue.Client(url, queue_name=peer.queue_name) as client:
                yield AqueueProducer(client, meter)
            return
        pool = await create_pool(RedisSettings.from_dsn(url), default_queue_name=peer.queue_key)
        try:
            yield ArqProducer(pool, peer.queue_key, meter)
        finally:
            await pool.aclose()
    finally:
        await meter.aclose()
