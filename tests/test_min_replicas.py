"""Durable enqueue: ``min_replicas`` returns only once replicas hold the job (``WAIT``), or says why not."""

from __future__ import annotations

import contextlib
import functools
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Client, ConfigurationError, ReplicationError, Worker
from aqueue.embedded import RedisServer, find_redis_server
from tests.conftest import serving
from tests.proxy import freezable_proxy
from tests.refusals import replicate
from tests.support import eventually

QUEUE = "arq:queue"


@functools.cache
def debug_args() -> tuple[str, ...]:
    """Return what lets ``asleep`` run ``DEBUG``: Redis 7 refuses it unless enabled, 6 has no such option."""
    version = subprocess.run([find_redis_server(), "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"v=(\d+)\.", version.stdout)
    return ("--enable-debug-command", "local") if found and int(found.group(1)) >= 7 else ()


@pytest.fixture
def pair() -> Iterator[tuple[RedisServer, RedisServer]]:
    """A primary and a replica of it, synced (the replica may be put to sleep: ``asleep``)."""
    with RedisServer() as primary, RedisServer(extra_args=debug_args()) as replica:
        replicate(replica, primary)
        yield primary, replica


@pytest.fixture
def lone() -> Iterator[RedisServer]:
    """A primary with no replica."""
    with RedisServer() as server:
        yield server


def on(server: RedisServer, job_id: str, kind: str = "job") -> bool:
    """Return whether ``server`` holds job ``job_id``'s key (``kind`` "result": its result's)."""
    with contextlib.closing(sync_redis.Redis(port=server.port)) as r:
        return bool(r.exists(f"arq:{kind}:{job_id}"))


def on_result(server: RedisServer, job_id: str) -> bool:
    """Return whether ``server`` holds job ``job_id``'s result."""
    return on(server, job_id, "result")


def asleep(server: RedisServer, seconds: float) -> threading.Thread:
    """Make ``server`` sleep (``DEBUG SLEEP``: it answers nothing, replication included) in a thread."""

    def sleep() -> None:
        with contextlib.closing(sync_redis.Redis(port=server.port, socket_timeout=seconds + 5)) as r:
            r.execute_command("DEBUG", "SLEEP", seconds)

    thread = threading.Thread(target=sleep)
    thread.start()
    time.sleep(0.05)  # the server has started sleeping
    return thread


async def test_an_enqueue_returns_once_the_replica_has_the_job(
    pair: tuple[RedisServer, RedisServer], transport: str
) -> None:
    primary, replica = pair
    async with Client(primary.url, min_replicas=1, replication_timeout_s=5) as client:
        for n in range(20):
            job = await client.enqueue("count", n)
            assert job is not None and on(replica, job.job_id), n  # there the moment enqueue returned
        sleeper = asleep(replica, 0.6)
        started = time.monotonic()
        fast = await client.enqueue("count", 0, _min_replicas=0)  # not waited for
        fast_s = time.monotonic() - started
        job = await client.enqueue("count", 1)  # waits for the sleeping replica
        waited = time.monotonic() - started
        sleeper.join(10)
    assert fast is not None and job is not None
    assert fast_s < 0.2 < 0.4 < waited < 3, (fast_s, waited)
    assert on(replica, job.job_id)


async def test_too_few_replicas_raise_replication_error_naming_the_written_job(lone: RedisServer) -> None:
    async with Client(lone.url, min_replicas=1, replication_timeout_s=0.2, retry_window_s=0) as client:
        started = time.monotonic()
        with pytest.raises(ReplicationError, match=r"only 0 of 1 replicas confirmed it within 0.2 s") as e:
            await client.enqueue("count", 1)
        assert 0.15 < time.monotonic() - started < 1
        error = e.value
        assert (error.acknowledged, error.wanted) == (0, 1)
        assert await client.job(error.job_id).status() == "queued"  # written, and it will run
        with pytest.raises(ReplicationError):
            await client.enqueue("count", 1, _job_id="mine")
        assert sorted(await client.redis.zrange(QUEUE, 0, -1)) == sorted([error.job_id.encode(), b"mine"])


async def test_within_the_window_it_waits_for_a_replica_to_come(lone: RedisServer) -> None:
    with RedisServer() as late:
        async with Client(lone.url, min_replicas=1, replication_timeout_s=0.2, retry_window_s=5) as client:
            joins = threading.Timer(0.5, replicate, args=(late, lone))
            joins.start()
            started = time.monotonic()
            job = await client.enqueue("count", 1)  # ReplicationError at first, then retried
            waited = time.monotonic() - started
            joins.join(10)
            assert job is not None and on(late, job.job_id)
            assert 0.4 < waited < 5
            assert await client.redis.zcard(QUEUE) == 1  # retried, never written twice
        with pytest.raises(ReplicationError, match=r"retried for 0.5 s"):
            async with Client(lone.url, min_replicas=2, replication_timeout_s=0.1, retry_window_s=0.5) as two:
                await two.enqueue("count", 2)


async def test_a_lost_reply_is_confirmed_on_the_replica_without_a_second_job(
    pair: tuple[RedisServer, RedisServer], lone: RedisServer
) -> None:
    primary, replica = pair
    async with freezable_proxy(primary.url) as proxy, Client(proxy.url, min_replicas=1) as client:
        proxy.lose_reply(b"EVALSHA")
        job = await client.enqueue("count", 1)
        assert proxy.lost_replies == 1
        assert job is not None and on(replica, job.job_id)
        assert await client.redis.zcard(QUEUE) == 1
    # The retry finds the job written and writes nothing itself: it must still wait for a replica.
    async with (
        freezable_proxy(lone.url) as proxy,
        Client(proxy.url, min_replicas=1, replication_timeout_s=0.1, retry_window_s=2) as client,
    ):
        proxy.lose_reply(b"EVALSHA")
        with pytest.raises(ReplicationError, match="only 0 of 1"):
            await client.enqueue("count", 1)
        assert await client.redis.zcard(QUEUE) == 1


async def double(ctx: dict[str, object], n: int) -> int:
    return 2 * n


def waits(server: RedisServer) -> int:
    """Return how many WAIT commands ``server`` has run."""
    with contextlib.closing(sync_redis.Redis(port=server.port)) as r:
        stats = r.info("commandstats").get("cmdstat_wait")
        return int(stats["calls"]) if stats else 0


def worker_on(server: RedisServer, **options: Any) -> contextlib.AbstractAsyncContextManager[Worker]:
    return serving(server.url, [double], **options)


async def test_a_worker_counts_a_job_done_once_the_replica_has_its_result(
    pair: tuple[RedisServer, RedisServer], transport: str
) -> None:
    primary, replica = pair
    durable = worker_on(primary, min_replicas=1, replication_timeout_s=5)
    async with Client(primary.url) as client, durable as w:
        assert await (await client.enqueue("double", 1)).result(timeout=5) == 2
        sleeper = asleep(replica, 0.6)
        started = time.monotonic()
        job = await client.enqueue("double", 21)
        assert await job.result(timeout=5) == 42  # written on the primary at once
        await eventually(lambda: w.jobs_complete == 2, "the worker to count the job", timeout=5)
        counted = time.monotonic() - started
        assert on_result(replica, job.job_id)  # the replica had it when the worker went on
        sleeper.join(10)
    assert 0.4 < counted < 3, counted
    assert waits(primary) >= 2


async def test_a_worker_without_replicas_records_results_and_says_they_are_unconfirmed(
    lone: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with Client(lone.url) as client, worker_on(lone, min_replicas=1, replication_timeout_s=0.05) as w:
        jobs = [await client.enqueue("double", n) for n in range(3)]
        assert [await j.result(timeout=5) for j in jobs] == [0, 2, 4]
        await eventually(lambda: w.jobs_complete == 3, "the worker to count the jobs")
    warnings = [r.getMessage() for r in caplog.records if "replicas within" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once, not per write
    assert "reached only 0 of 1 replicas within 0.05 s" in warnings[0]
    assert "a failover now would run those jobs again" in warnings[0]


def test_bad_worker_replica_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="min_replicas must be a whole number"):
        Worker([double], min_replicas=-1)
    with pytest.raises(ConfigurationError, match="replication_timeout_s must be positive"):
        Worker([double], min_replicas=1, replication_timeout_s=0)
