"""A worker on several queues: strict order, weights, one wake-up for all, and worker processes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Client, ConfigurationError, Retry, Worker, task
from aqueue.monitor import live_workers
from tests.conftest import WorkerFactory, aqueue_cli, run_cli
from tests.support import LoggedProcess, eventually

ran: list[str] = []
running: list[int] = [0, 0]  # now, most at once


@task
async def record(ctx: dict[str, Any], tag: str) -> str:
    ran.append(tag)
    return tag


@task
async def busy(ctx: dict[str, Any], tag: str) -> str:
    running[0] += 1
    running[1] = max(running)
    ran.append(tag)
    await asyncio.sleep(0.2)
    running[0] -= 1
    return tag


@task
async def flaky(ctx: dict[str, Any]) -> str:
    if ctx["job_try"] == 1:
        raise Retry(defer=0.05)
    return str(ctx["queue_name"])


@pytest.fixture(autouse=True)
def _reset() -> None:
    ran.clear()
    running[:] = [0, 0]


async def test_strict_order_serves_a_later_queue_only_when_the_earlier_have_nothing_due(
    client: Client, run_worker: WorkerFactory
) -> None:
    await client.enqueue_many(record, [(f"default-{i}",) for i in range(5)], _queue_name="default")
    await client.enqueue_many(record, [(f"critical-{i}",) for i in range(5)], _queue_name="critical")
    async with run_worker([record], queues=["critical", "default"], max_jobs=1):
        await eventually(lambda: len(ran) == 10, "both queues")
        await client.enqueue(record, "default-late", _queue_name="default")
        await client.enqueue(record, "critical-late", _queue_name="critical")
        await eventually(lambda: len(ran) == 12, "the late ones")
    assert all(tag.startswith("critical") for tag in ran[:5]), ran
    assert all(tag.startswith("default") for tag in ran[5:10]), ran


async def test_weights_split_claims_under_a_backlog_on_both(
    client: Client, run_worker: WorkerFactory
) -> None:
    await client.enqueue_many(record, [(f"a-{i}",) for i in range(300)], _queue_name="a")
    await client.enqueue_many(record, [(f"b-{i}",) for i in range(300)], _queue_name="b")
    async with run_worker([record], queues={"a": 3, "b": 1}, max_jobs=4, queue_read_limit=4):
        await eventually(lambda: len(ran) >= 200, "200 jobs")
    share = sum(tag.startswith("a") for tag in ran[:200]) / 200
    assert 0.7 <= share <= 0.8, share
    async with run_worker([record], queues={"a": 3, "b": 1}, max_jobs=4):  # one queue empty: no waste
        await eventually(lambda: len(ran) == 600, "the rest")


async def test_one_wake_up_covers_every_queue_and_capacity_holds(
    client: Client, run_worker: WorkerFactory
) -> None:
    async with run_worker([record, busy], queues=["a", "b"], max_jobs=1, poll_delay=30) as worker:
        await asyncio.sleep(0.2)  # idle on both: blocked on its wake list for up to poll_delay
        for queue in ("b", "a"):
            start = time.monotonic()
            job = await client.enqueue(record, queue, _queue_name=queue)
            assert await job.result(timeout=5) == queue
            assert time.monotonic() - start < 1.0, queue  # woken, not polled
        await asyncio.sleep(0.1)
        # idle on both queues: a handoff through one, and while that job runs, nothing through the other
        first = await client.enqueue(busy, "first", _queue_name="a")
        await eventually(lambda: running[0] == 1, "the first job to start")
        jobs = [first] + [await client.enqueue(busy, q, _queue_name=q) for q in ("b", "a", "b")]
        for job in jobs:
            await job.result(timeout=5)
        assert running[1] == 1
        await eventually(lambda: worker.jobs_complete == 6, "the worker to count them")


async def test_a_second_queues_job_is_renewed_retried_and_recorded_on_its_queue(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    async with run_worker([flaky, busy], queues=["a", "b"], lease_s=0.3):
        job = await client.enqueue(flaky, _queue_name="b")
        assert await job.result(timeout=5) == "b"
        info = await job.result_info()
        assert info is not None and info.queue_name == "b" and info.job_try == 2
        long = await client.enqueue(busy, "long", _queue_name="b", _priority=2)
        await asyncio.sleep(0.05)
        assert sync_r.zscore("b", long.job_id) is not None  # leased in its own queue
        await long.result(timeout=5)  # 0.2 s of a 0.3 s lease, renewed there
    assert sync_r.zcard("a") == sync_r.zcard("b") == 0


@pytest.mark.parametrize(
    ("queues", "message"),
    [
        ([], "queues is empty"),
        ({}, "queues is empty"),
        ({"a": 0}, "the weight of 'a' must be a whole number >= 1, got 0"),
        ({"a": True}, "the weight of 'a' must be a whole number >= 1, got True"),
        ({"a": 1.5}, "the weight of 'a'"),
        (["a", "a"], "a queue is named twice"),
        ([""], "a queue name must be a non-empty string"),
        ([3], "a queue name must be a non-empty string, got 3"),
        ("critical", "queues must be a list of queue names"),
    ],
)
def test_bad_queues_settings_are_one_clear_error(queues: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Worker([record], queues=queues)


def test_queues_and_queue_name_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="use queues or queue_name, not both"):
        Worker([record], queues=["a"], queue_name="b")


@pytest.mark.transport("wire")  # worker processes: one transport is enough
async def test_worker_processes_on_two_queues(redis_url: str, sync_r: sync_redis.Redis) -> None:
    args = ("--queue", "critical", "--queue", "default")
    async with Client(redis_url) as client:
        await client.enqueue_many("ordered", [(f"d{i}", 0.02) for i in range(20)], _queue_name="default")
        await client.enqueue_many("ordered", [(f"c{i}", 0.02) for i in range(20)], _queue_name="critical")
        long = await client.enqueue("ordered", "long", 2.5, _queue_name="default")  # longer than the lease
        procs = [
            LoggedProcess(
                aqueue_cli("worker", "tests.proc_tasks.OneAtATimeSettings", *args, redis_url=redis_url)
            )
            for _ in range(2)
        ]
        try:
            await eventually(lambda: sync_r.llen("proc:order") == 41, "every job to start", 30)
            result = await long.result(timeout=20)
            workers = await live_workers(client)
            check = run_cli(
                "worker", "--check", "tests.proc_tasks.OneAtATimeSettings", *args, redis_url=redis_url
            )
        finally:
            for p in procs:
                p.kill()
    order = [t.decode() for t in sync_r.lrange("proc:order", 0, -1)]
    first_default = min(i for i, tag in enumerate(order) if not tag.startswith("c"))
    assert first_default >= 20 - 1, order  # the other process may start its last critical job later
    assert order.count("long") == 1 and result["try"] == 1  # its lease was renewed on its own queue
    assert {w.queues for w in workers} == {("critical", "default")}
    assert check.returncode == 0, check.stderr
    assert "serve queue 'critical'" in check.stdout and "serve queue 'default'" in check.stdout
