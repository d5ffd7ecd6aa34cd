"""A worker survives every Redis error reply: it logs once, backs off, and resumes with no job lost.

Each test runs a real worker on a server of its own and makes that server refuse commands for a
while: out of memory (``maxmemory`` with ``noeviction``), a read-only replica (after a failover),
busy in a long script. The heartbeat beats every 0.2 s here, so "several heartbeat intervals" is
about a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import aqueue._worker.heartbeat
from aqueue import Client, Worker, task
from aqueue.embedded import RedisServer
from aqueue.extensions import Service, WorkerContext, WorkerExtension
from aqueue.scheduler import cron
from tests.refusals import busy, promote, replicate, starve
from tests.support import eventually

BEAT_S = 0.2
#: How long each test keeps Redis refusing: several heartbeat intervals, more than a lease.
REFUSING_S = 1.6
RUNS: list[int] = []


@task
async def slow(ctx: dict[str, Any], i: int, seconds: float = 0.3) -> int:
    RUNS.append(i)
    await asyncio.sleep(seconds)
    return i * 10


@pytest.fixture(autouse=True)
def _fast_heartbeat(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    """Beat fast, log the worker's lines; every test here runs on both hot-path transports."""
    monkeypatch.setattr(aqueue._worker.heartbeat, "BEAT_S", BEAT_S)
    caplog.set_level(logging.INFO, logger="aqueue")
    RUNS.clear()


@pytest.fixture
def server() -> Any:
    with RedisServer() as s:
        yield s


@asynccontextmanager
async def worker_on(url: str, **options: Any) -> AsyncIterator[tuple[Worker, asyncio.Task[None]]]:
    options.setdefault("max_jobs", 4)
    worker = Worker([slow], redis_settings=url, handle_signals=False, lease_s=1, **options)
    running = asyncio.create_task(worker.async_run())
    try:
        await eventually(lambda: worker._finisher is not None, "the worker to start")
        yield worker, running
    finally:
        worker.request_stop(force=True)
        await asyncio.wait_for(running, 20)
        await worker.close()


def failures(caplog: pytest.LogCaptureFixture, loop: str) -> list[str]:
    """The WARNING/ERROR lines a loop logged about failing (``loop``: "heartbeat", "claiming jobs", …)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and f"{loop} failed" in r.getMessage()
    ]


def recoveries(caplog: pytest.LogCaptureFixture, loop: str) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if f"{loop}: Redis accepts commands again" in r.getMessage()
    ]


async def assert_every_job_finishes(url: str, ids: list[str], timeout: float = 20) -> None:
    async with Client(url) as client:
        results = [await client.job(job_id).result(timeout=timeout) for job_id in ids]
    assert results == [i * 10 for i in range(len(ids))]
    assert set(RUNS) >= set(range(len(ids)))


async def enqueue_slow(url: str, count: int, seconds: float = 0.3) -> list[str]:
    async with Client(url) as client:
        jobs = [await client.enqueue("slow", i, seconds) for i in range(count)]
    return [job.job_id for job in jobs if job is not None]


class Writer(WorkerExtension):
    """An extension whose service writes to Redis all the time (so a refusal ends it: restarted)."""

    def __init__(self) -> None:
        self.redis: Any = None
        self.starts: list[float] = []

    def bind(self, context: WorkerContext) -> None:
        self.redis = context.redis

    def services(self) -> list[Service]:
        return [self.write]

    async def write(self) -> None:
        self.starts.append(time.monotonic())
        while True:
            await self.redis.set("service:alive", "1")
            await asyncio.sleep(0.05)


async def test_a_worker_on_a_redis_out_of_memory_stays_alive_and_then_finishes_every_job(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await enqueue_slow(server.url, 8)
    writer = Writer()
    async with worker_on(server.url, extensions=[writer]) as (worker, running):
        await eventually(lambda: RUNS, "a job to start")
        starve(server)
        await asyncio.sleep(REFUSING_S)
        assert not running.done(), "the worker died"
        beats = failures(caplog, "heartbeat")
        assert len(beats) == 1, beats  # logged once, though every beat of ~8 failed
        assert "refused the write: it is out of memory" in beats[0]
        assert len(writer.starts) >= 2, "the service was not restarted after its refused write"
        starve(server, 0)
        await assert_every_job_finishes(server.url, ids)
        await eventually(lambda: recoveries(caplog, "heartbeat"), "the heartbeat to resume")
        assert await worker.pool.hget(worker.keys.worker(worker.worker_id), "queue")
        assert not running.done()
    assert len(failures(caplog, "heartbeat")) == 1


async def test_a_worker_on_a_replica_after_a_failover_stays_alive_and_then_finishes_every_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Jobs are running when the worker's server turns into a read-only replica (of a server that
    has the same data: it replicated the worker's one until then, as after a failover): their
    outcomes wait in the finisher, claims back off; once promoted back, every job finishes (an
    outcome whose lease lapsed meanwhile may be fenced: that job runs again)."""
    with RedisServer() as mine, RedisServer() as other:
        replicate(other, mine)
        ids = await enqueue_slow(mine.url, 6, seconds=0.6)
        async with worker_on(mine.url, max_jobs=8) as (_, running):
            await eventually(lambda: len(RUNS) >= 6, "the jobs to start")
            promote(other)
            replicate(mine, other)  # the worker's server is read-only now
            await asyncio.sleep(REFUSING_S)
            assert not running.done(), "the worker died"
            for loop in ("heartbeat", "recording results"):
                logged = failures(caplog, loop)
                assert len(logged) == 1, (loop, logged)
                assert "READONLY" in logged[0], logged
            claims = failures(caplog, "claiming jobs")  # its wake-up BLPOP may be UNBLOCKED first
            assert 1 <= len(claims) <= 2, claims
            assert "READONLY" in claims[-1], claims
            promote(mine)
            await assert_every_job_finishes(mine.url, ids)
            assert recoveries(caplog, "recording results") and recoveries(caplog, "claiming jobs")
            assert not running.done()


async def test_a_worker_on_a_redis_busy_in_a_script_stays_alive_and_then_finishes_every_job(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await enqueue_slow(server.url, 8, seconds=0.4)
    every_second = cron("* * * * * *", "slow", name="tick", args=(100,))
    async with worker_on(server.url, cron_jobs=[every_second]) as (_, running):
        await eventually(lambda: len(RUNS) >= 4, "the first jobs to start")
        with busy(server):
            await asyncio.sleep(REFUSING_S)
            assert not running.done(), "the worker died"
        for loop in ("heartbeat", "recording results", "renewing leases", "cron: claiming slots"):
            logged = failures(caplog, loop)
            assert len(logged) == 1, (loop, logged)
            assert "BUSY" in logged[0], logged
        await assert_every_job_finishes(server.url, ids)
        await eventually(lambda: recoveries(caplog, "cron: claiming slots"), "the scheduler to resume")
        assert not running.done()


async def test_a_worker_asked_to_stop_while_redis_refuses_stops_and_its_job_runs_again(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An outcome Redis does not take is dropped once the shutdown grace is over (the worker must
    stop); the job's lease lapses and another worker runs it: nothing is lost."""
    [job_id] = await enqueue_slow(server.url, 1, seconds=0.3)
    async with worker_on(server.url, job_completion_wait=0.5) as (worker, running):
        await eventually(lambda: RUNS, "the job to start")
        with busy(server):
            await eventually(lambda: failures(caplog, "recording results"), "the outcome to be refused")
            worker.request_stop()
            started = time.monotonic()
            await asyncio.wait_for(asyncio.shield(running), 10)
            assert time.monotonic() - started < 8
        assert any("1 results Redis did not take" in r.getMessage() for r in caplog.records)
    async with worker_on(server.url):
        await assert_every_job_finishes(server.url, [job_id])
    assert RUNS == [0, 0]
