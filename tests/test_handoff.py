"""Enqueue hands a due job straight to an idle worker; leases keep that safe."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from aqueue import Client, JobStatus, task
from aqueue._worker.queue_ops import QueueOps


@task
async def who(ctx: dict[str, Any]) -> list[Any]:
    return [ctx["worker_id"], ctx["job_try"], os.getpid()]


async def idle_members(client: Client) -> set[bytes]:
    return set(await client.redis.smembers(client.keys.idle(client.default_queue)))


async def test_idle_worker_receives_job_already_claimed(client: Client, run_worker: Any) -> None:
    async with run_worker([who]) as worker:
        for _ in range(100):  # wait until the worker has registered as idle
            if await idle_members(client):
                break
            await asyncio.sleep(0.01)
        assert await idle_members(client) == {f"{worker.worker_id}/5000".encode()}
        job = await client.enqueue("who")
        assert job is not None
        assert await job.result(timeout=5) == [worker.worker_id, 1, os.getpid()]


async def test_handoff_to_a_dead_idle_worker_is_recovered_by_its_lease(
    client: Client, run_worker: Any
) -> None:
    ghost = "ghost-worker"
    await client.redis.sadd(client.keys.idle(client.default_queue), f"{ghost}/500")
    job = await client.enqueue("who")
    assert job is not None
    wake = await client.redis.lrange(client.keys.wake(ghost), 0, -1)
    assert len(wake) == 1 and wake[0].startswith(b"J1:")  # handed over, claimed for the ghost
    assert await client.redis.get(client.keys.in_progress(job.job_id)) == f"{ghost}:1".encode()
    t0 = time.monotonic()
    async with run_worker([who]) as worker:
        assert await job.result(timeout=10) == [worker.worker_id, 2, os.getpid()]
    assert time.monotonic() - t0 < 5


async def test_retiring_worker_leaves_idle_set(client: Client, run_worker: Any) -> None:
    async with run_worker([who]):
        while not await idle_members(client):
            await asyncio.sleep(0.01)
    assert await idle_members(client) == set()


async def test_retire_hands_back_jobs_handed_over_but_never_read(client: Client) -> None:
    ops = QueueOps(client.scripts, client.keys, client.default_queue, "w1", lease_ms=5000)
    jobs, _ = await ops.claim(10, register_idle=True, max_deliveries=5)
    assert jobs == []
    job = await client.enqueue("who")
    assert job is not None
    assert await client.redis.get(client.keys.in_progress(job.job_id)) == b"w1:1"
    assert await ops.release([]) == 1
    assert await idle_members(client) == set()
    assert await client.redis.exists(client.keys.in_progress(job.job_id), client.keys.wake("w1")) == 0
    assert await client.redis.get(client.keys.retry(job.job_id)) is None  # the unread handoff cost no try
    assert await client.redis.hexists(client.keys.deliveries, job.job_id) == 0  # type: ignore[misc]
    assert await job.status() == JobStatus.queued


async def test_claim_takes_unread_handoffs_first(client: Client) -> None:
    ops = QueueOps(client.scripts, client.keys, client.default_queue, "w1", lease_ms=5000)
    await ops.claim(10, register_idle=True, max_deliveries=5)
    job = await client.enqueue("who")
    assert job is not None
    jobs, _ = await ops.claim(10, register_idle=True, max_deliveries=5)
    assert [(j.job_id, j.job_try, j.token) for j in jobs] == [(job.job_id, 1, "w1:1")]
    assert await client.redis.exists(client.keys.wake("w1")) == 0
    again, _ = await ops.claim(10, register_idle=False, max_deliveries=5)
    assert again == []  # taken once only


async def test_nudges_never_drop_a_job_handed_to_the_idle_worker(client: Client, run_worker: Any) -> None:
    # A nudge ends the idle wait while its BLPOP may be answering with a handed-over job. With a 30 s
    # lease, a job dropped in flight would only come back after 30 s; every job must finish in seconds.
    async with run_worker([who], lease_s=30) as worker:
        for _ in range(40):
            while not await idle_members(client):
                await asyncio.sleep(0.002)
            worker._nudge.set()
            job = await client.enqueue("who")
            assert job is not None
            result = await job.result(timeout=5)
            assert result[1] == 1  # first try: it was never taken over by a lease lapse
