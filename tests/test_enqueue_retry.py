"""``Client.enqueue`` through lost connections: bounded retries that never create a second job."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Client, ConfigurationError, RedisAuthError, RedisUnavailableError
from aqueue.embedded import RedisServer
from tests.conftest import WorkerFactory
from tests.proxy import FreezableProxy, freezable_proxy
from tests.support import eventually

QUEUE = "arq:queue"


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[FreezableProxy]:
    async with freezable_proxy(redis_url) as p:
        yield p


def counting_task() -> tuple[Any, collections.Counter[str]]:
    runs: collections.Counter[str] = collections.Counter()

    async def count(ctx: dict[str, Any], n: int) -> int:
        runs[ctx["job_id"]] += 1
        return n

    return count, runs


async def test_a_lost_reply_is_retried_into_the_same_single_job(
    proxy: FreezableProxy, sync_r: sync_redis.Redis, run_worker: WorkerFactory
) -> None:
    count, runs = counting_task()
    async with run_worker([count]) as worker, Client(proxy.url) as client:
        await eventually(lambda: sync_r.scard(f"arq:idle:{QUEUE}"), "the worker to wait idle")
        proxy.lose_reply(b"EVALSHA")  # the first attempt hands the job over, then its reply is lost
        job = await client.enqueue("count", 7)
        assert proxy.lost_replies == 1
        assert job is not None and await job.result(timeout=5) == 7
        await asyncio.sleep(0.3)  # a second job, had one been made, would have run by now
        assert runs == {job.job_id: 1}
        assert worker.jobs_complete == 1


async def test_a_lost_reply_with_a_job_id_gives_the_job_not_none(
    proxy: FreezableProxy, sync_r: sync_redis.Redis
) -> None:
    async with Client(proxy.url) as client:
        proxy.lose_reply(b"EVALSHA")
        job = await client.enqueue("count", 1, _job_id="once")
        assert proxy.lost_replies == 1
        assert job is not None and job.job_id == "once"
        assert sync_r.zrange(QUEUE, 0, -1) == [b"once"]
        assert await client.enqueue("count", 1, _job_id="once") is None  # taken: arq's semantics


async def test_a_lost_reply_for_an_id_another_job_holds_still_gives_none(
    proxy: FreezableProxy, sync_r: sync_redis.Redis
) -> None:
    async with Client(proxy.url) as client:
        first = await client.enqueue("count", 1, _job_id="taken")
        assert first is not None
        proxy.lose_reply(b"EVALSHA")
        assert await client.enqueue("count", 2, _job_id="taken") is None
        assert proxy.lost_replies == 1
        assert sync_r.zrange(QUEUE, 0, -1) == [b"taken"]


async def test_a_lost_reply_after_the_job_already_ran_gives_the_job(
    proxy: FreezableProxy, sync_r: sync_redis.Redis, run_worker: WorkerFactory
) -> None:
    count, runs = counting_task()
    async with run_worker([count]), Client(proxy.url) as client:
        await eventually(lambda: sync_r.scard(f"arq:idle:{QUEUE}"), "the worker to wait idle")
        proxy.lose_reply(b"EVALSHA")
        job = await client.enqueue(
            "count", 3, _job_id="ran"
        )  # done before the retry: only the result is left
        assert job is not None and await job.result(timeout=5) == 3
        await asyncio.sleep(0.3)
        assert runs == {"ran": 1}


@contextlib.contextmanager
def down_for(server: RedisServer, seconds: float) -> Any:
    """Stop ``server`` now and start it again on the same port after ``seconds``, in a thread."""
    server.stop()
    restart = threading.Timer(seconds, server.start)
    restart.start()
    try:
        yield
    finally:
        restart.join(15)


async def test_an_enqueue_while_redis_restarts_waits_for_it(transport: str) -> None:
    with RedisServer() as server:
        async with Client(server.url) as client:
            await client.enqueue("warm")
            with down_for(server, 0.8):
                started = time.monotonic()
                job = await client.enqueue("count", 1)
                waited = time.monotonic() - started
            assert job is not None and await job.status() == "queued"  # on the restarted server
            assert 0.7 < waited < 3, waited


async def test_the_retry_window_bounds_the_wait_and_zero_turns_retries_off(transport: str) -> None:
    with RedisServer() as server:
        async with (
            Client(server.url, retry_window_s=0.4) as client,
            Client(server.url, retry_window_s=0) as now,
        ):
            await client.enqueue("warm")
            await now.enqueue("warm")
            server.stop()
            started = time.monotonic()
            with pytest.raises(RedisUnavailableError, match=r"lost Redis at .* retried for 0.4 s"):
                await client.enqueue("count", 1)
            assert 0.3 < time.monotonic() - started < 2
            started = time.monotonic()
            with pytest.raises(RedisUnavailableError, match="lost Redis at") as raised:
                await now.enqueue("count", 1)
            assert time.monotonic() - started < 0.3 and "retried" not in str(raised.value)


async def test_a_refused_password_is_not_retried(transport: str) -> None:
    with RedisServer(password="first") as server:
        async with Client(server.url) as client:  # a 5 s window by default
            await client.enqueue("warm")
            admin = sync_redis.Redis(port=server.port, password="first")
            admin.config_set("requirepass", "second")
            admin.client_kill_filter(_type="normal", skipme=True)  # the client must log in again
            admin.close()
            started = time.monotonic()
            with pytest.raises(RedisAuthError, match="WRONGPASS") as raised:
                await client.enqueue("count", 1)
            assert time.monotonic() - started < 1
            assert raised.value.code == "WRONGPASS"


def test_the_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="retry_window_s"):
        Client(retry_window_s=-1)
    with pytest.raises(ConfigurationError, match="min_replicas"):
        Client(min_replicas=-1)
    with pytest.raises(ConfigurationError, match="min_replicas"):
        Client(min_replicas="1")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="replication_timeout_s"):
        Client(replication_timeout_s=0)
