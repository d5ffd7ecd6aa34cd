"""Fair groups on a real Redis: round robin over groups, per-group limits beside global ones, status."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Client, ConfigurationError, task
from aqueue.jobs import JobStatus
from aqueue.monitor import queue_stats
from tests.conftest import WorkerFactory, aqueue_cli
from tests.support import LoggedProcess

order: list[str] = []
running: Counter[str] = Counter()
peaks: Counter[str] = Counter()


@task
async def tenant_job(ctx: dict[str, Any], group: str) -> str:
    order.append(group)
    return group


@task(concurrency=2, group_concurrency=1)
async def per_tenant(ctx: dict[str, Any], group: str) -> str:
    running[group] += 1
    running["all"] += 1
    for key in (group, "all"):
        peaks[key] = max(peaks[key], running[key])
    await asyncio.sleep(0.03)
    running[group] -= 1
    running["all"] -= 1
    return group


@pytest.fixture(autouse=True)
def _reset() -> None:
    order.clear()
    running.clear()
    peaks.clear()


async def test_a_small_group_is_not_stuck_behind_a_backlog(client: Client, run_worker: WorkerFactory) -> None:
    await client.enqueue_many("tenant_job", [("big",)] * 400, _group="big")
    small = await client.enqueue_many("tenant_job", [("small",)] * 5, _group="small")
    assert await small[0].status() == JobStatus.queued  # waiting in its group
    assert await client.job(small[1].job_id).status() == JobStatus.queued  # a handle not told the group
    async with run_worker([tenant_job], max_jobs=10):
        for job in small:
            assert await job.result(timeout=20) == "small"
    positions = [n for n, group in enumerate(order) if group == "small"]
    assert positions[-1] < 2 * 5 + 10, positions  # in turn with big: not after its 400 jobs


async def test_group_limits_hold_beside_the_global_one(client: Client, run_worker: WorkerFactory) -> None:
    jobs = []
    for group in ("a", "b", "c"):
        jobs += await client.enqueue_many("per_tenant", [(group,)] * 4, _group=group)
    async with run_worker([per_tenant], max_jobs=10), run_worker([per_tenant], max_jobs=10):
        assert sorted([await j.result(timeout=20) for j in jobs]) == sorted(["a", "b", "c"] * 4)
    assert peaks["all"] == 2  # the task's concurrency
    assert max(peaks[g] for g in "abc") == 1  # one per group at a time


async def test_bad_groups_are_refused(client: Client) -> None:
    for bad in ("", "a\nb", "x" * 201):
        with pytest.raises(ConfigurationError, match="_group must be"):
            await client.enqueue("tenant_job", "g", _group=bad)
    with pytest.raises(ConfigurationError, match="no _priority"):
        await client.enqueue("tenant_job", "g", _group="g", _priority=3)


async def test_abort_purge_and_status_see_grouped_jobs(client: Client) -> None:
    jobs = await client.enqueue_many("tenant_job", [("a",)] * 3, _group="a")
    await client.enqueue_many("tenant_job", [("b",)] * 2, _group="b")
    stats = await queue_stats(client)
    assert (stats.groups, stats.grouped, stats.due) == (2, 5, 5)
    assert await jobs[0].abort(timeout=0)
    assert await client.purge_queue() == 4
    assert (await queue_stats(client)).groups == 0
    assert await jobs[1].status() == JobStatus.not_found


async def test_unique_jobs_of_a_group_wait_in_it(client: Client, run_worker: WorkerFactory) -> None:
    await client.enqueue_many("tenant_job", [("big",)] * 200, _group="big")
    first = await client.enqueue("tenant_job", "small", _group="small", _unique="report")
    again = await client.enqueue("tenant_job", "small", _group="small", _unique="report")
    assert again.deduplicated and again.job_id == first.job_id
    bounced = [
        await client.enqueue("tenant_job", "late", _group="late", _unique="d", _debounce=0.1)
        for _ in range(3)
    ]
    assert {j.job_id for j in bounced} == {bounced[0].job_id}
    assert (await queue_stats(client)).groups == 3
    async with run_worker([tenant_job], max_jobs=10):
        assert await first.result(timeout=10) == "small"
        assert await bounced[0].result(timeout=10) == "late"
    assert order.index("small") < 20 and order.count("late") == 1  # in turn, and once


@pytest.mark.transport("wire")  # worker processes: one transport is enough
async def test_groups_take_turns_across_worker_processes(redis_url: str, sync_r: sync_redis.Redis) -> None:
    async with Client(redis_url) as client:
        await client.enqueue_many("tenant", [("big",)] * 300, _group="big")
        small = await client.enqueue_many("tenant", [("small",)] * 5, _group="small")
        settings = "tests.limits_tasks.SoloSettings"
        workers = [LoggedProcess(aqueue_cli("worker", settings, redis_url=redis_url), name) for name in "ab"]
        try:
            for job in small:
                assert await job.result(timeout=20) == "small"
        finally:
            for w in workers:
                w.kill()
    order = [g.decode() for g in sync_r.lrange("lim:order", 0, -1)]
    positions = [n for n, g in enumerate(order) if g == "small"]
    assert len(positions) == 5 and positions[-1] < 40, positions  # in turn with big's 300, on two workers
