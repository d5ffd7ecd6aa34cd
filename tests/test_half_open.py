"""Half-open connections: a network that drops packets without a reset must not leave a call, a
worker or a shutdown waiting forever. A proxy on 127.0.0.1 (``tests/proxy.py``) plays that network."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any

import pytest
from redis.exceptions import ConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aqueue import Client, task
from aqueue._redis.connection import connect, resolve_settings
from aqueue._redis.wire import Wire
from aqueue.errors import RedisUnavailableError
from tests.proxy import freezable_proxy
from tests.support import eventually


@pytest.mark.transport("wire")
async def test_calls_on_a_silent_wire_fail_and_the_next_call_reconnects(redis_url: str) -> None:
    async with freezable_proxy(redis_url) as proxy:
        wire = Wire(resolve_settings(proxy.url), reply_timeout_s=0.3)
        try:
            assert await wire.execute("PING") == b"PONG"
            assert proxy.freeze() == 1
            started = time.monotonic()
            pending = [wire.call("PING"), wire.call("SET", "k", "v")]
            for fut in pending:
                with pytest.raises(ConnectionError, match="no reply from Redis in 0.3 s"):
                    await asyncio.wait_for(fut, 5)
            assert 0.25 < time.monotonic() - started < 3
            assert await wire.execute("PING") == b"PONG"  # a new connection, through the proxy
        finally:
            await wire.aclose()


@pytest.mark.transport("wire")
async def test_a_blocking_command_may_wait_as_long_as_it_asked(wire: Wire) -> None:
    short = Wire(wire.settings, reply_timeout_s=0.2)
    try:
        started = time.monotonic()
        assert await short.call("BLPOP", "nothing-here", 1, wait_s=1) is None
        assert time.monotonic() - started >= 0.9
    finally:
        await short.aclose()


async def test_pool_calls_on_a_silent_connection_time_out(redis_url: str) -> None:
    async with freezable_proxy(redis_url) as proxy:
        pool = await connect(resolve_settings(proxy.url), reply_timeout_s=0.3)
        try:
            await pool.ping()
            assert proxy.freeze() >= 1
            started = time.monotonic()
            with pytest.raises(RedisTimeoutError):
                await asyncio.wait_for(pool.get("k"), 5)
            assert time.monotonic() - started < 3
            assert await pool.ping()  # a new connection, through the proxy
        finally:
            await pool.aclose()


@pytest.mark.transport("wire")
async def test_tcp_connections_have_keepalive_on(wire: Wire, redis_url: str) -> None:
    await wire.execute("PING")
    assert wire._protocol is not None and wire._protocol._transport is not None
    sock = wire._protocol._transport.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    pool = await connect(resolve_settings(redis_url))
    try:
        kwargs = pool.connection_pool.connection_kwargs
        assert kwargs["socket_keepalive"] is True and kwargs["socket_timeout"] == 30.0
    finally:
        await pool.aclose()


@task
async def who(ctx: dict[str, Any]) -> list[Any]:
    return [ctx["worker_id"], ctx["job_try"], os.getpid()]


async def test_a_worker_whose_connections_go_silent_reconnects_and_runs_the_job(
    client: Client, run_worker: Any, redis_url: str
) -> None:
    """The job handed to the idle worker is lost on the wire: the worker must notice (no reply within
    reply_timeout_s), reconnect and run the job once its lease lapses, not sit deaf forever; and its
    shutdown must not hang on a silent connection either (run_worker bounds it)."""
    idle_key = client.keys.idle(client.default_queue)
    async with (
        freezable_proxy(redis_url) as proxy,
        run_worker([who], redis_settings=proxy.url, lease_s=1, reply_timeout_s=1) as worker,
    ):
        await eventually(lambda: client.redis.smembers(idle_key), "the worker to register as idle")
        # its wake-up BLPOP may go out on a connection the proxy is still opening upstream
        await eventually(lambda: proxy.connections >= 2, "the worker's second connection")
        assert proxy.freeze() >= 2  # the wake-up BLPOP and the hot-path connection, at least
        job = await client.enqueue("who")
        assert job is not None
        t0 = time.monotonic()
        # try 2 if the handoff was lost in the silent BLPOP (its lease lapsed, then a new claim); try 1
        # if the worker's wake-up BLPOP was not out when the connections went silent, so the handoff
        # was still on its wake list when it came back
        assert await job.result(timeout=25) in (
            [worker.worker_id, 2, os.getpid()],
            [worker.worker_id, 1, os.getpid()],
        )
        assert time.monotonic() - t0 < 20


#: How each transport words a reply that never came.
SILENCE = {"wire": "no reply from Redis", "redis-py": "Timeout reading from"}


async def test_a_client_on_a_silent_connection_raises_instead_of_waiting_forever(
    redis_url: str, transport: str
) -> None:
    async with (
        freezable_proxy(redis_url) as proxy,
        Client(proxy.url, reply_timeout_s=0.3, retry_window_s=0) as client,  # no retry: the error itself
    ):
        await client.enqueue("who")  # opens the hot-path connection
        await client.redis.ping()
        proxy.freeze()
        started = time.monotonic()
        with pytest.raises(RedisUnavailableError, match=SILENCE[transport]):
            await client.enqueue("who")
        if transport == "wire":  # the pool's connection is frozen too (on redis-py, enqueue dropped it)
            with pytest.raises(RedisTimeoutError):
                await client.redis.get("k")
        assert time.monotonic() - started < 5
        assert await client.enqueue("who") is not None  # reconnected through the proxy
