"""Producer-side adapters: the same few operations on an aqueue ``Client`` and on an arq pool."""

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

import aqueue
from bench.peers import Peer

#: arq has no batch enqueue: the batch benchmark keeps this many ``enqueue_job`` calls in flight.
ARQ_IN_FLIGHT = 100


class AqueueProducer:
    def __init__(self, client: aqueue.Client):
        self.client = client

    async def enqueue(self, name: str, *args: Any) -> Any:
        return await self.client.enqueue(name, *args)

    async def enqueue_batch(self, name: str, n: int) -> None:
        await self.client.enqueue_many(name, [() for _ in range(n)])

    async def prefill(self, name: str, n: int) -> None:
        await self.enqueue_batch(name, n)

    async def result(self, job: Any, timeout: float) -> Any:
        return await job.result(timeout=timeout)


class ArqProducer:
    def __init__(self, pool: ArqRedis, queue: str):
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
    if peer.impl == "aqueue":
        async with aqueue.Client(url, queue_name=peer.queue_name) as client:
            yield AqueueProducer(client)
        return
    pool = await create_pool(RedisSettings.from_dsn(url), default_queue_name=peer.queue_key)
    try:
        yield ArqProducer(pool, peer.queue_key)
    finally:
        await pool.aclose()
