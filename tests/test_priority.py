"""Job priorities on a real Redis: order, deferral, task defaults, handoff, retries, status and kill -9."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Client, ConfigurationError, Retry, close_default_client, task
from aqueue.jobs import JobStatus
from tests.conftest import WorkerFactory, aqueue_cli
from tests.support import LoggedProcess, eventually
from tests.test_interop import arq_pool

ran: list[str] = []


@task
async def record(ctx: dict[str, Any], tag: str) -> str:
    ran.append(tag)
    return tag


@task(priority=7)
async def urgent(ctx: dict[str, Any], tag: str) -> str:
    ran.append(tag)
    return tag


@task
async def slow(ctx: dict[str, Any], tag: str) -> str:
    ran.append(tag)
    await asyncio.sleep(0.1)
    return tag


@task
async def flaky(ctx: dict[str, Any], tag: str) -> str:
    ran.append(f"{tag}#{ctx['job_try']}")
    if ctx["job_try"] == 1:
        raise Retry(defer=0.2)
    return tag


@pytest.fixture(autouse=True)
def _reset() -> None:
    ran.clear()


async def _drain(run_worker: WorkerFactory, count: int, **options: Any) -> None:
    options.setdefault("max_jobs", 1)
    async with run_worker([record, urgent, flaky, slow], **options):
        await eventually(lambda: len(ran) >= count, f"{count} jobs to run")


async def test_higher_priorities_first_fifo_within_one(client: Client, run_worker: WorkerFactory) -> None:
    expected: dict[int, list[str]] = {}
    for n in range(40):  # interleaved, one call each: many land in the same millisecond
        priority = (n * 7) % 10
        tag = f"p{priority}-{n}"
        await client.enqueue(record, tag, _priority=priority)
        expected.setdefault(priority, []).append(tag)
    await _drain(run_worker, 40)
    # priority 0 keeps arq's order (run-at ms: jobs of one millisecond in any order)
    assert ran[:36] == [tag for p in range(9, 0, -1) for tag in expected[p]]
    assert sorted(ran[36:]) == sorted(expected[0])


async def test_priority_zero_stays_where_arq_puts_it(client: Client, sync_r: sync_redis.Redis) -> None:
    plain = await client.enqueue(record, "plain")
    high = await client.enqueue(record, "high", _priority=3)
    assert sync_r.zscore("arq:queue", plain.job_id) is not None
    assert sync_r.zscore("arq:queue", high.job_id) is None  # a plain arq worker does not see it
    assert sync_r.zscore("arq:ready:arq:queue", high.job_id) is not None
    assert await plain.priority() == 0 and await high.priority() == 3


@pytest.mark.parametrize("bad", [-1, 10, 2.5, "5", True, None])
async def test_a_bad_priority_is_refused_before_any_write(
    client: Client, sync_r: sync_redis.Redis, bad: Any
) -> None:
    if bad is None:  # None means "the default": accepted
        assert await client.enqueue(record, "x", _priority=bad) is not None
        return
    with pytest.raises(ConfigurationError, match="_priority must be a whole number from 0 to 9"):
        await client.enqueue(record, "x", _priority=bad)
    with pytest.raises(ConfigurationError, match="_priority"):
        await client.enqueue_many(record, [("y",)], _priority=bad)
    assert sync_r.dbsize() == 0
    with pytest.raises(ConfigurationError, match="priority must be a whole number"):
        task(priority=bad)


async def test_a_tasks_default_priority(client: Client, run_worker: WorkerFactory) -> None:
    await client.enqueue(record, "plain-1")
    await client.enqueue_many(record, [("plain-2",), ("plain-3",)])
    await client.enqueue_many(urgent, [("urgent-1",), ("urgent-2",)])
    await client.enqueue(urgent, "urgent-3")
    await client.enqueue(urgent, "urgent-low", _priority=0)  # an explicit priority wins
    await client.enqueue("urgent", "by-name")  # by name: the producer has no task code, priority 0
    await _drain(run_worker, 6)
    assert ran[:3] == ["urgent-1", "urgent-2", "urgent-3"]
    assert set(ran[3:]) == {"plain-1", "plain-2", "plain-3", "urgent-low", "by-name"}


async def test_a_deferred_job_takes_its_priority_when_due_and_wakes_a_worker_on_time(
    client: Client, run_worker: WorkerFactory
) -> None:
    async with run_worker([record], max_jobs=1, poll_delay=30):
        await asyncio.sleep(0.2)  # the worker is idle, blocked for up to poll_delay
        start = time.monotonic()
        job = await client.enqueue(record, "later", _priority=5, _defer_by=0.6)
        assert await job.status() is JobStatus.deferred
        assert await job.priority() == 5
        assert await job.result(timeout=5) == "later"
        took = time.monotonic() - start
    assert 0.55 <= took < 1.5, took


async def test_a_deferred_job_jumps_a_backlog_once_due(client: Client, run_worker: WorkerFactory) -> None:
    await client.enqueue(record, "late-high", _priority=9, _defer_by=0.3)
    await client.enqueue_many(record, [(f"low-{i}",) for i in range(3)], _priority=1)
    await client.enqueue_many(record, [(f"plain-{i}",) for i in range(3)])
    await asyncio.sleep(0.4)
    await _drain(run_worker, 7)
    assert ran[:4] == ["late-high", "low-0", "low-1", "low-2"]
    assert sorted(ran[4:]) == ["plain-0", "plain-1", "plain-2"]  # one batch: one run-at ms


async def test_status_info_result_and_abort_of_priority_jobs(client: Client) -> None:
    queued = await client.enqueue(record, "q", _priority=4)
    deferred = await client.enqueue(record, "d", _priority=6, _defer_by=60)
    assert await queued.status() is JobStatus.queued
    assert await deferred.status() is JobStatus.deferred
    info = await deferred.info()
    assert info is not None and info["priority"] == 6 and info["f"] == "record"
    with pytest.raises(Exception, match="did not finish in time"):  # waits: not "no result"
        await queued.result(timeout=0.3)
    assert await deferred.abort(timeout=0) is True
    assert await deferred.status() is JobStatus.complete
    assert await queued.abort(timeout=0) is True
    assert await queued.priority() is None


async def test_handoff_and_retry_keep_the_priority(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    async with run_worker([record, flaky], max_jobs=1, poll_delay=30):
        await asyncio.sleep(0.2)
        job = await client.enqueue(flaky, "f", _priority=8)  # handed straight to the idle worker
        await eventually(lambda: ran == ["f#1"], "the first try")
        assert await job.priority() == 8  # claimed: its priority is kept beside its lease
        assert await job.result(timeout=5) == "f"
    assert ran == ["f#1", "f#2"]


async def test_a_retry_takes_its_priority_when_due(client: Client, run_worker: WorkerFactory) -> None:
    await client.enqueue_many(slow, [(f"plain-{i}",) for i in range(8)])  # older, 0.1 s each
    await client.enqueue(flaky, "f", _priority=3)  # first; its retry is due 0.2 s later
    await _drain(run_worker, 10)
    assert ran[0] == "f#1"
    assert ran.index("f#2") <= 4, ran  # ahead of the older priority-0 backlog once due


async def test_task_enqueue_uses_the_tasks_priority(
    redis_url: str, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQUEUE_REDIS_URL", redis_url)
    try:
        job = await urgent.enqueue("via-task")
        other = await urgent.enqueue("explicit", _priority=1)
    finally:
        await close_default_client()
    assert await client.job(job.job_id).priority() == 7
    assert await client.job(other.job_id).priority() == 1


async def test_plain_arq_producers_jobs_are_priority_zero(redis_url: str, run_worker: WorkerFactory) -> None:
    arq = await arq_pool(redis_url)
    try:
        await arq.enqueue_job("record", "from-arq")
    finally:
        await arq.aclose()
    async with Client(redis_url) as client:
        await client.enqueue(record, "high", _priority=2)
        await _drain(run_worker, 2)
    assert ran == ["high", "from-arq"]


# -- kill -9: the lease lapses, the job is due again with its priority ---------------------------------


def _worker(redis_url: str, settings: str) -> LoggedProcess:
    proc = aqueue_cli("worker", f"tests.proc_tasks.{settings}", redis_url=redis_url)
    return LoggedProcess(proc, settings)


@pytest.mark.transport("wire")  # worker processes: one transport is enough
async def test_kill_9_recovery_keeps_the_priority(redis_url: str, sync_r: sync_redis.Redis) -> None:
    async with Client(redis_url) as client:
        job = await client.enqueue("ordered", "kill9", 250.0, _priority=6)
        first = _worker(redis_url, "ShortLeaseSettings")
        try:
            await eventually(lambda: sync_r.llen("proc:order") == 1, "the job to start", 20)
        finally:
            first.kill()  # SIGKILL
        sync_r.set("proc:duration:kill9", 0)
        # a backlog of lower jobs, enqueued after the claim: the recovered job must go first
        await client.enqueue_many("ordered", [(f"low-{i}",) for i in range(3)], _priority=2)
        await client.enqueue_many("ordered", [(f"plain-{i}",) for i in range(3)])
        await asyncio.sleep(1.2)  # the 1 s lease lapses
        second = _worker(redis_url, "OneAtATimeSettings")
        try:
            result = await job.result(timeout=20)
            await eventually(lambda: sync_r.llen("proc:order") == 8, "the backlog", 20)
        finally:
            second.kill()
    assert result["try"] == 2
    order = [t.decode() for t in sync_r.lrange("proc:order", 0, -1)]
    # low-0 was handed to the killed worker, idle beside its running job: its lapsed claim puts it
    # back at the front of its priority
    assert order[:5] == ["kill9", "kill9", "low-0", "low-1", "low-2"], second.log
    assert sorted(order[5:]) == ["plain-0", "plain-1", "plain-2"]
