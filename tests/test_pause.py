"""Pausing, resuming and purging queues: in-process and worker processes, the client API and the CLI."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
import redis as sync_redis

from aqueue import Client, task
from aqueue.jobs import JobStatus
from aqueue.monitor import queue_stats
from tests.conftest import WorkerFactory, aqueue_cli, run_cli
from tests.support import LoggedProcess, eventually

ran: list[str] = []


@task
async def record(ctx: dict[str, Any], tag: str) -> str:
    ran.append(tag)
    return tag


@task
async def hold(ctx: dict[str, Any], seconds: float) -> None:
    await asyncio.sleep(seconds)


async def test_a_paused_queue_takes_enqueues_but_no_claims_and_resume_wakes_at_once(
    client: Client, run_worker: WorkerFactory
) -> None:
    ran.clear()
    async with run_worker([record], poll_delay=30) as worker:
        await asyncio.sleep(0.2)  # idle: blocked on its wake list for up to poll_delay
        assert await client.pause_queue() is True
        assert await client.pause_queue() is False  # already paused
        assert await client.paused_queues() == {client.default_queue}
        job = await client.enqueue(record, "waits")  # written, not handed to the idle worker
        high = await client.enqueue(record, "waits-high", _priority=5)
        await asyncio.sleep(1.2)
        assert ran == [] and await job.status() is JobStatus.queued
        assert await high.status() is JobStatus.queued
        start = time.monotonic()
        assert await client.resume_queue() is True
        assert await job.result(timeout=5) == "waits"
        assert time.monotonic() - start < 1.0  # woken, not the 30 s poll
        assert await high.result(timeout=5) == "waits-high"
        assert ran == ["waits-high", "waits"]
        assert await client.paused_queues() == set()
        await eventually(lambda: worker.jobs_complete == 2, "the worker to count both")


@pytest.mark.transport("wire")  # worker processes: one transport is enough
async def test_pausing_stops_busy_worker_processes_within_a_second(
    redis_url: str, sync_r: sync_redis.Redis
) -> None:
    async with Client(redis_url) as client:
        await client.enqueue_many("ordered", [(f"j{i}", 0.05) for i in range(400)])
        workers = [
            LoggedProcess(aqueue_cli("worker", "tests.proc_tasks.OneAtATimeSettings", redis_url=redis_url))
            for _ in range(2)
        ]
        try:
            await eventually(lambda: sync_r.llen("proc:order") >= 10, "the workers to start", 20)
            await client.pause_queue()
            await asyncio.sleep(1.0)
            started = sync_r.llen("proc:order")
            await asyncio.sleep(1.0)
            assert sync_r.llen("proc:order") == started  # nothing claimed while paused
            await client.enqueue("ordered", "while-paused")  # enqueue still works
            assert started < 400
            await client.resume_queue()
            await eventually(lambda: sync_r.llen("proc:order") > started + 5, "claims to restart", 5)
        finally:
            for w in workers:
                w.kill()


async def test_purge_removes_waiting_jobs_of_every_kind_not_running_ones(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    async with run_worker([hold, record], max_jobs=1):
        running = await client.enqueue(hold, 2.0)
        await eventually(lambda: sync_r.exists(f"arq:in-progress:{running.job_id}"), "the job to start")
        await client.pause_queue()
        waiting = [
            await client.enqueue(record, "plain"),
            await client.enqueue(record, "deferred", _defer_by=60),
            await client.enqueue(record, "high", _priority=3),
            await client.enqueue(record, "high-deferred", _priority=9, _defer_by=60),
        ]
        others = await client.enqueue(record, "elsewhere", _queue_name="other")
        await client.enqueue_many(record, [(f"bulk-{i}",) for i in range(2500)])  # several batches
        assert await client.purge_queue() == 2504
        for job in waiting:
            assert await job.status() is JobStatus.not_found
            assert not sync_r.exists(f"arq:job:{job.job_id}")
        assert await running.status() is JobStatus.in_progress
        assert await others.status() is JobStatus.queued
        assert await client.purge_queue() == 0
        await client.resume_queue()
        await running.result(timeout=5)


async def test_status_shows_priority_jobs_and_paused(client: Client) -> None:
    await client.enqueue(record, "a", _priority=2)
    await client.enqueue(record, "b", _priority=2, _defer_by=60)
    await client.enqueue(record, "c")
    await client.pause_queue("fast")
    stats = await queue_stats(client)
    assert (stats.due, stats.later_or_running, stats.paused) == (2, 1, False)
    assert (await queue_stats(client, "fast")).paused is True


@pytest.mark.transport("wire")  # the CLI's own client: one transport is enough
def test_cli_pause_resume_list_and_purge(redis_url: str, sync_r: sync_redis.Redis) -> None:
    done = run_cli("queue", "pause", "fast", redis_url=redis_url)
    assert (done.returncode, done.stdout.strip()) == (0, "queue fast paused"), done.stderr
    assert sync_r.smembers("arq:paused") == {b"fast"}
    assert run_cli("enqueue", "record", '"x"', "--queue", "fast", redis_url=redis_url).returncode == 0
    listed = run_cli("queue", "list", "--json", redis_url=redis_url)
    assert listed.returncode == 0, listed.stderr
    assert orjson.loads(listed.stdout) == [
        {
            "queue": "fast",
            "due": 1,
            "later_or_running": 0,
            "paused": True,
            "groups": 0,
            "grouped": 0,
            "held_back": {},
        }
    ]
    text = run_cli("queue", "list", redis_url=redis_url).stdout
    assert text.strip() == "fast  paused  1 due, 0 deferred or running"
    status = run_cli("status", "--queue", "fast", redis_url=redis_url).stdout
    assert status.startswith("queue fast (paused): 1 due")
    refused = run_cli("queue", "purge", "fast", redis_url=redis_url)  # no terminal: no confirmation
    assert refused.returncode == 1 and sync_r.zcard("fast") == 1
    purged = run_cli("queue", "purge", "fast", "--yes", redis_url=redis_url)
    assert (purged.returncode, purged.stdout.strip()) == (0, "removed 1 jobs from queue fast")
    resumed = run_cli("queue", "resume", "fast", redis_url=redis_url)
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "queue fast resumed")
    again = run_cli("queue", "resume", "fast", redis_url=redis_url)
    assert again.stdout.strip() == "queue fast was not paused"
    gone = run_cli("queue", "pause", "fast", redis_url="redis://127.0.0.1:1/0")
    assert gone.returncode == 1 and gone.stderr.count("\n") == 1 and gone.stderr.startswith("error: ")


async def test_pausing_one_queue_leaves_the_others_and_their_priorities_alone(
    client: Client, run_worker: WorkerFactory
) -> None:
    ran.clear()
    await client.pause_queue("other")
    await client.enqueue(record, "plain")
    await client.enqueue(record, "high", _priority=4)
    await client.enqueue(record, "soon", _priority=6, _defer_by=0.2)
    parked = await client.enqueue(record, "parked", _queue_name="other")
    await asyncio.sleep(0.3)
    async with run_worker([record], max_jobs=1):
        await eventually(lambda: len(ran) == 3, "the default queue's jobs")
        await asyncio.sleep(0.3)
    assert ran == ["soon", "high", "plain"]
    assert await parked.status() is JobStatus.queued


def test_queue_list_shows_the_default_queue_with_jobs_and_no_worker(
    redis_url: str, sync_r: sync_redis.Redis
) -> None:
    assert run_cli("queue", "list", "--json", redis_url=redis_url).stdout.strip() == "[]"
    sync_r.zadd("arq:queue", {"j1": 1})
    rows = orjson.loads(run_cli("queue", "list", "--json", redis_url=redis_url).stdout)
    assert [(r["queue"], r["due"]) for r in rows] == [("arq:queue", 1)]
