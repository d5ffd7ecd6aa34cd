"""A worker whose process stalls (SIGSTOP, a blocked loop) must not start jobs whose claims lapsed meanwhile.

The stall is made in-process: the test blocks the event loop the worker runs on (``time.sleep``), and
while it is blocked a producer on another thread hands a job to the idle worker (the BLPOP's reply
waits unread in its socket) and the claim's lease lapses. Without the check, the worker would run the
job on waking, be fenced off at the finish, then claim and run it again: two executions.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import redis as sync_redis

from aqueue import Client, Worker, task
from tests.support import eventually

LEASE_S = 1.0


@task
async def record(ctx: dict[str, Any], tag: str) -> str:
    await ctx["redis"].rpush(f"runs:{tag}", f"{ctx['job_id']}:{ctx['job_try']}")
    return tag


def enqueue_elsewhere(redis_url: str, tag: str) -> str:
    """Enqueue ``record(tag)`` from another thread and event loop; block until it is written."""
    ids: list[str] = []

    async def produce() -> None:
        async with Client(redis_url) as producer:
            job = await producer.enqueue("record", tag)
            assert job is not None
            ids.append(job.job_id)

    thread = threading.Thread(target=asyncio.run, args=(produce(),))
    thread.start()
    thread.join(10)
    return ids[0]


async def idle(sync_r: sync_redis.Redis, worker: Worker) -> bool:
    await asyncio.sleep(0.05)  # the worker sends its BLPOP right after registering
    member = f"{worker.worker_id}/{int(worker.lease_s * 1000)}"
    return bool(sync_r.sismember(worker.keys.idle(worker.queue_name), member))


async def test_a_handoff_whose_claim_lapsed_while_the_worker_was_frozen_is_not_started(
    client: Client, run_worker: Any, redis_url: str, sync_r: sync_redis.Redis, caplog: Any
) -> None:
    async with run_worker([record], lease_s=LEASE_S, poll_delay=2) as worker:
        await eventually(lambda: idle(sync_r, worker), "the worker to wait idle")
        job_id = enqueue_elsewhere(redis_url, "frozen")
        token = sync_r.get(f"arq:in-progress:{job_id}")
        assert token == f"{worker.worker_id}:1".encode(), "the enqueue should have handed the job over"
        time.sleep(LEASE_S * 2)  # the loop is frozen: the claim lapses, its wake-up waits unread
        assert not sync_r.exists(f"arq:in-progress:{job_id}")
        job = client.job(job_id)
        assert await job.result(timeout=10) == "frozen"
        await asyncio.sleep(0.3)  # room for a second run to show
    runs = [r.decode() for r in sync_r.lrange("runs:frozen", 0, -1)]
    # try 1 is the lapsed delivery; later ones may run twice only if a loaded machine stalls the loop
    assert runs and f"{job_id}:1" not in runs, f"the lapsed delivery (try 1) must not run: {runs}"
    assert "claims lapsed before they could start" in caplog.text


async def test_a_handoff_pushed_while_frozen_before_the_worker_blocked_again_is_checked(
    client: Client, run_worker: Any, redis_url: str, sync_r: sync_redis.Redis
) -> None:
    """The freeze falls between a claim (which registered the worker idle) and the BLPOP after it.

    The hand-over waits in the wake list, so the BLPOP sent on waking returns it at once: its age
    must count from the claim, not from that BLPOP.
    """
    job_ids: list[str] = []
    async with run_worker([record], lease_s=LEASE_S, poll_delay=0.3) as worker:
        await eventually(lambda: idle(sync_r, worker), "the worker to wait idle")
        assert worker._ops is not None
        claim = worker._ops.claim

        async def claim_then_freeze(limit: int, **options: Any) -> Any:
            reply = await claim(limit, **options)
            if not job_ids and not reply[0]:  # nothing claimed: registered idle, the BLPOP comes next
                job_ids.append(enqueue_elsewhere(redis_url, "gap"))
                time.sleep(LEASE_S * 2)
            return reply

        worker._ops.claim = claim_then_freeze  # type: ignore[method-assign]
        await eventually(lambda: job_ids, "the freeze")
        [job_id] = job_ids
        assert await client.job(job_id).result(timeout=10) == "gap"
        await asyncio.sleep(0.3)  # room for a second run to show
    runs = [r.decode() for r in sync_r.lrange("runs:gap", 0, -1)]
    assert runs and f"{job_id}:1" not in runs, f"the lapsed hand-over (try 1) must not run: {runs}"


async def test_fresh_claims_start_unchecked(
    client: Client, run_worker: Any, sync_r: sync_redis.Redis, caplog: Any
) -> None:
    jobs = await client.enqueue_many("record", [("fresh",) for _ in range(20)])
    async with run_worker([record], lease_s=LEASE_S, max_jobs=5) as worker:
        for job in jobs:
            assert job is not None
            assert await job.result(timeout=10) == "fresh"
        await eventually(lambda: worker.jobs_complete == 20, "the worker to count them")
    runs = sorted(r.decode() for r in sync_r.lrange("runs:fresh", 0, -1))
    assert runs == sorted(f"{j.job_id}:1" for j in jobs if j is not None)
    assert "claims lapsed" not in caplog.text
