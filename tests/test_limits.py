"""Global flow limits on a real Redis: concurrency and rate across workers, no polling, kill -9, SIGSTOP."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Client, ConfigurationError, Retry, task
from aqueue.jobs import JobStatus
from aqueue.monitor import queue_stats
from aqueue.workflows import chord
from tests.conftest import WorkerFactory, aqueue_cli, run_cli
from tests.limits_tasks import solo
from tests.support import LoggedProcess, eventually

running: dict[str, int] = {"now": 0, "peak": 0}
starts: list[float] = []
tries: list[int] = []


@task(concurrency=3)
async def capped(ctx: dict[str, Any], i: int) -> int:
    running["now"] += 1
    running["peak"] = max(running["peak"], running["now"])
    tries.append(ctx["job_try"])
    await asyncio.sleep(0.03)
    running["now"] -= 1
    return i


@task(rate_limit="4/0.4s")
async def rated(ctx: dict[str, Any], i: int) -> int:
    starts.append(time.monotonic())
    return i


@task(concurrency=1)
async def hog(ctx: dict[str, Any], seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@pytest.fixture(autouse=True)
def _reset() -> None:
    running.update(now=0, peak=0)
    starts.clear()
    tries.clear()


async def test_concurrency_holds_across_workers(client: Client, run_worker: WorkerFactory) -> None:
    async with run_worker([capped], max_jobs=10), run_worker([capped], max_jobs=10):
        jobs = await client.enqueue_many("capped", [(i,) for i in range(24)])
        assert [await j.result(timeout=20) for j in jobs] == list(range(24))
    assert running["peak"] == 3  # never more, and the limit is used
    assert set(tries) == {1}  # waiting for a slot used no try


async def test_rate_limit_is_a_sliding_window(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    async with run_worker([rated], max_jobs=10), run_worker([rated], max_jobs=10):
        jobs = [await client.enqueue("rated", i) for i in range(12)]
        assert [await j.result(timeout=20) for j in jobs] == list(range(12))
    s = sorted(starts)
    # no 0.4 s window holds more than 4 starts (starts are seen a few ms after their claims)
    assert all(s[i + 4] - s[i] >= 0.4 - 0.03 for i in range(len(s) - 4)), s
    assert s[-1] - s[0] >= 0.8 - 0.03  # three windows' worth
    assert 0 < sync_r.pttl("arq:starts:t\nrated") <= 400  # the log goes a window after the last start


def _evalsha_calls(r: sync_redis.Redis) -> int:
    stats = r.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))


async def test_waiting_jobs_cost_no_polling(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis, redis_url: str
) -> None:
    async with run_worker([hog], max_jobs=5):
        first = await client.enqueue("hog", 1.2)
        # the long one must hold the slot first: jobs enqueued in one ms are ordered by id
        await eventually(lambda: sync_r.exists("arq:in-progress:" + first.job_id), "the long job to start")
        waiting = [await client.enqueue("hog", 0.0) for _ in range(4)]
        await eventually(lambda: sync_r.hlen("arq:waiting") == 4, "the others to be held back")
        before = _evalsha_calls(sync_r)
        await asyncio.sleep(0.6)
        assert _evalsha_calls(sync_r) - before < 10  # lease renewals, not a claim loop
        assert await waiting[0].status() == JobStatus.queued
        info = await waiting[0].info()
        assert info is not None and info["waiting"] == {"reason": "concurrency", "limit": "hog"}
        shown = run_cli("job", waiting[1].job_id, redis_url=redis_url)
        assert "waiting: over its concurrency limit (hog)" in shown.stdout, shown.stderr
        await first.result(timeout=5)
        t0 = time.monotonic()
        for job in waiting:
            await job.result(timeout=5)
        assert time.monotonic() - t0 < 0.5  # a freed slot wakes the next job at once
    assert sync_r.hlen("arq:waiting") == 0 and not sync_r.exists("arq:held")


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="rate_limit must look like"):
        task(rate_limit="fast")(capped.func)
    with pytest.raises(ConfigurationError, match="concurrency must be a whole number"):
        task(concurrency=0)(capped.func)
    with pytest.raises(ConfigurationError, match="count of at least 1"):
        task(rate_limit=(0, 1.0))(capped.func)


def _solo_worker(redis_url: str) -> LoggedProcess:
    return LoggedProcess(aqueue_cli("worker", "tests.limits_tasks.SoloSettings", redis_url=redis_url), "solo")


@pytest.mark.transport("wire")  # worker processes: one transport is enough
@pytest.mark.parametrize("how", ["kill -9", "SIGSTOP"])
async def test_a_dead_or_frozen_holder_frees_its_slot(
    how: str, redis_url: str, sync_r: sync_redis.Redis, run_worker: WorkerFactory
) -> None:
    async with Client(redis_url) as client:
        long = await client.enqueue("solo", "long", 30.0)
        first = _solo_worker(redis_url)
        try:
            await eventually(lambda: sync_r.llen("lim:starts") == 1, "the long job to start", 20)
            first.proc.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGSTOP)
            sync_r.set("lim:seconds:long", 0)  # its redelivery is quick
            short = await client.enqueue("solo", "short", 0.0)
            t0 = time.monotonic()
            async with run_worker([solo], lease_s=1.0, max_jobs=4):
                assert await short.result(timeout=10) == "short"
                waited = time.monotonic() - t0
                if how == "SIGSTOP":
                    first.proc.send_signal(signal.SIGCONT)  # it wakes to a lapsed claim: fenced off
                assert await long.result(timeout=10) == "long"
        finally:
            first.kill()
    assert waited < 1.0 + 1.5  # the 1 s lease lapsed, then the slot was free
    started = [s.decode().split(":") for s in sync_r.lrange("lim:starts", 0, -1)]
    assert sorted((tag, int(attempt)) for tag, _pid, attempt in started[1:]) == [("long", 2), ("short", 1)]
    assert not sync_r.exists("arq:held") and sync_r.zcard("arq:slots:t\nsolo") == 0


async def test_abort_purge_and_status_see_held_back_jobs(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    async with run_worker([hog], max_jobs=5):
        first = await client.enqueue("hog", 2.0)  # holds the slot through what follows, even under load
        # the long one must hold the slot first: jobs enqueued in one ms are ordered by id
        await eventually(lambda: sync_r.exists("arq:in-progress:" + first.job_id), "the long job to start")
        held = [await client.enqueue("hog", 0.0) for _ in range(3)]
        await eventually(lambda: sync_r.hlen("arq:waiting") == 3, "the others to be held back")
        stats = await queue_stats(client)
        assert stats.held_back == {"concurrency": 3} and stats.due == 3
        assert await held[0].abort(timeout=0)
        assert await client.purge_queue() == 2
        assert sync_r.hlen("arq:waiting") == 0
        assert await first.result(timeout=5) == 2.0
    assert await held[1].status() == JobStatus.not_found


@task(concurrency=2)
async def capped_node(ctx: dict[str, Any], i: int) -> int:
    running["now"] += 1
    running["peak"] = max(running["peak"], running["now"])
    tries.append(ctx["job_try"])
    await asyncio.sleep(0.02)
    running["now"] -= 1
    if i == 0 and ctx["job_try"] == 1:
        raise Retry(defer=0.05)  # a retry frees its slot and waits its turn again
    return i


@task
async def total(ctx: dict[str, Any], parts: list[int]) -> int:
    return sum(parts)


async def test_limits_hold_for_workflow_nodes_and_retries(client: Client, run_worker: WorkerFactory) -> None:
    async with run_worker([capped_node, total], max_jobs=10), run_worker([capped_node, total], max_jobs=10):
        run = await client.run(chord([capped_node.s(i) for i in range(8)], total.s()))
        assert await run.result(timeout=20) == sum(range(8))
    assert running["peak"] == 2  # a chord's header, released at once, still runs two at a time
    assert sorted(tries) == [1] * 8 + [2]  # only the one that asked for a retry used a second try
