"""aqueue and plain arq share one Redis: jobs flow both ways when both use aqueue's serializer."""

from __future__ import annotations

import asyncio
from typing import Any

from arq import Worker as ArqWorker
from arq.connections import RedisSettings, create_pool
from arq.jobs import Job as ArqJob
from arq.jobs import JobStatus

import aqueue
from aqueue import Client


async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


async def slow(ctx: dict[str, Any]) -> str:
    await asyncio.sleep(1.0)
    return "done"


async def arq_pool(url: str) -> Any:
    return await create_pool(
        RedisSettings.from_dsn(url),
        job_serializer=aqueue.job_serializer,
        job_deserializer=aqueue.job_deserializer,
    )


def plain_arq_worker(redis_url: str, *functions: Any, **options: Any) -> ArqWorker:
    """A plain arq burst worker that uses aqueue's serializer."""
    return ArqWorker(
        functions=list(functions),
        redis_settings=RedisSettings.from_dsn(redis_url),
        burst=True,
        job_serializer=aqueue.job_serializer,
        job_deserializer=aqueue.job_deserializer,
        handle_signals=False,
        poll_delay=0.05,
        **options,
    )


async def test_arq_producer_to_aqueue_worker(redis_url: str, run_worker: Any) -> None:
    pool = await arq_pool(redis_url)
    try:
        job = await pool.enqueue_job("add", 2, 3, _job_id="from-arq")
        assert job is not None
        async with run_worker([add]):
            assert await job.result(timeout=5, poll_delay=0.05) == 5
            info = await job.result_info()
            assert info is not None and info.success and info.function == "add"
    finally:
        await pool.aclose()


async def test_aqueue_producer_to_arq_worker(client: Client, redis_url: str) -> None:
    job = await client.enqueue("add", 20, 22)
    assert job is not None
    worker = plain_arq_worker(redis_url, add)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    assert worker.jobs_complete == 1
    assert await job.result(timeout=5) == 42
    result = await job.wait(timeout=1)
    assert result.function == "add" and result.args == (20, 22)


async def test_arq_sees_aqueue_running_job_in_progress(
    client: Client, redis_url: str, run_worker: Any
) -> None:
    pool = await arq_pool(redis_url)
    try:
        async with run_worker([slow]):
            job = await client.enqueue("slow", _job_id="watched")
            assert job is not None
            arq_view = ArqJob("watched", pool, _deserializer=aqueue.job_deserializer)
            for _ in range(100):
                if await arq_view.status() == JobStatus.in_progress:
                    break
                await asyncio.sleep(0.01)
            assert await arq_view.status() == JobStatus.in_progress
            assert await job.result(timeout=5) == "done"
            assert await arq_view.status() == JobStatus.complete
            assert await arq_view.result(timeout=1) == "done"
    finally:
        await pool.aclose()


async def test_arq_worker_skips_job_claimed_by_aqueue(
    client: Client, redis_url: str, run_worker: Any
) -> None:
    async with run_worker([slow]) as ours:
        job = await client.enqueue("slow")
        assert job is not None
        while await job.status() != JobStatus.in_progress:
            await asyncio.sleep(0.01)
        theirs = plain_arq_worker(redis_url, slow, max_burst_jobs=1)
        try:
            await asyncio.wait_for(theirs.async_run(), 5)
        finally:
            await theirs.close()
        assert await job.result(timeout=5) == "done"
        assert ours.jobs_complete == 1
        assert theirs.jobs_complete == 0
