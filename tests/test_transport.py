"""The hot path's transports (``aqueue._redis.transport``): which one is chosen, and what both promise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis as sync_redis
from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import ConnectionError

from aqueue import Client, Worker
from aqueue._redis.connection import connect, resolve_settings
from aqueue._redis.core import Abort, AbortArgs
from aqueue._redis.scripts import ScriptRegistry
from aqueue._redis.transport import (
    ENV_TRANSPORT,
    RedisPyTransport,
    Transport,
    WireTransport,
    choose_transport,
)
from aqueue.errors import ConfigurationError
from tests.support import eventually

# The tests below make both transports themselves: one run of each is enough.
pytestmark = pytest.mark.transport("wire")

TCP = resolve_settings("redis://127.0.0.1:6379/0")
UNIX = resolve_settings("unix:///tmp/redis.sock")
TLS = resolve_settings("rediss://127.0.0.1:6379/0")
SENTINEL = RedisSettings(host=[("127.0.0.1", 26379)], sentinel=True, sentinel_master="mymaster")


async def noop(ctx: dict[str, object]) -> None:
    return None


def test_auto_takes_the_wire_where_it_can(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_TRANSPORT, raising=False)
    assert choose_transport("auto", TCP) == "wire"
    assert choose_transport("auto", UNIX) == "wire"
    assert choose_transport("auto", TLS) == "wire"
    assert choose_transport("auto", SENTINEL) == "wire"
    assert choose_transport("auto", None) == "redis-py"  # a pool passed in


def test_forcing_a_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_TRANSPORT, raising=False)
    assert choose_transport("redis-py", TCP) == "redis-py"
    assert choose_transport("wire", TCP) == "wire"
    assert choose_transport("wire", TLS) == choose_transport("wire", SENTINEL) == "wire"
    assert choose_transport("redis-py", TLS) == choose_transport("redis-py", SENTINEL) == "redis-py"
    with pytest.raises(ConfigurationError, match="transport='wire' needs Redis settings"):
        choose_transport("wire", None)


def test_the_environment_decides_what_auto_means(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_TRANSPORT, "redis-py")
    assert choose_transport("auto", TCP) == "redis-py"
    assert choose_transport("wire", TCP) == "wire"  # an explicit choice wins
    monkeypatch.setenv(ENV_TRANSPORT, "wire")
    assert choose_transport("auto", TCP) == "wire"
    assert choose_transport("auto", None) == "redis-py"  # never an error from the environment alone
    monkeypatch.setenv(ENV_TRANSPORT, "fast")
    with pytest.raises(ConfigurationError, match=f"{ENV_TRANSPORT} must be one of"):
        choose_transport("auto", TCP)


async def test_a_bad_transport_fails_when_the_client_or_worker_is_made() -> None:
    with pytest.raises(ConfigurationError, match="transport must be one of auto, wire, redis-py"):
        Client("redis://127.0.0.1:6379/0", transport="fast")
    with pytest.raises(ConfigurationError, match="transport must be one of"):
        Worker([noop], redis_settings="redis://127.0.0.1:6379/0", transport="fast")
    pool = ArqRedis()  # a pool passed in: redis-py only
    with pytest.raises(ConfigurationError, match="transport='wire' needs Redis settings"):
        Client(pool, transport="wire")
    await pool.aclose()


@pytest.mark.parametrize("forced", ["wire", "redis-py"])
async def test_client_runs_the_hot_path_on_the_transport_asked_for(redis_url: str, forced: str) -> None:
    async with Client(redis_url, transport=forced) as client:
        assert client.transport.name == forced
        job = await client.enqueue("anything", 1)
        assert job is not None and await job.status() == "queued"


@pytest.fixture(params=["wire", "redis-py"])
async def hot_path(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Transport]:
    """Each transport, made directly."""
    settings = resolve_settings(redis_url)
    pool = await connect(settings)
    made: Transport = (
        WireTransport(settings) if request.param == "wire" else RedisPyTransport(pool, settings, block_s=5)
    )
    yield made
    await made.aclose()
    await pool.aclose()


async def test_a_script_is_loaded_again_after_a_script_flush(
    hot_path: Transport, sync_r: sync_redis.Redis
) -> None:
    abort = ScriptRegistry(hot_path).get(Abort)
    args = AbortArgs(prefix="arq:", queue="arq:queue", job_id="nope", now_ms=1, result=b"", ttl_ms=1)
    assert await abort(args) == "missing"
    sync_r.script_flush()
    assert sync_r.script_exists(abort.sha) == [False]
    assert await abort(args) == "missing"
    assert sync_r.script_exists(abort.sha) == [True]


async def test_a_pop_outlives_a_wait_that_gave_up(hot_path: Transport, sync_r: sync_redis.Redis) -> None:
    popped = hot_path.blpop("wake", 5)
    done, _ = await asyncio.wait({popped}, timeout=0.1)  # the caller's wait ends, the pop goes on
    assert not done
    sync_r.lpush("wake", b"job")
    reply = await asyncio.wait_for(popped, 5)
    assert reply is not None and tuple(reply) == (b"wake", b"job")
    assert await asyncio.wait_for(hot_path.blpop("wake", 0.1), 5) is None  # timed out: nothing there


async def test_stopping_the_blocking_side_then_popping_again(
    hot_path: Transport, sync_r: sync_redis.Redis
) -> None:
    pending = hot_path.blpop("wake", 5)
    await asyncio.sleep(0.05)
    pending.cancel()  # what a stopping worker does before stop_blocking
    await hot_path.stop_blocking()
    with pytest.raises((asyncio.CancelledError, ConnectionError)):
        await pending
    await eventually(lambda: sync_r.info("clients")["blocked_clients"] == 0, "the old pop's connection to go")
    sync_r.lpush("wake", b"later")
    reply = await asyncio.wait_for(hot_path.blpop("wake", 5), 5)  # a new blocking connection
    assert reply is not None and reply[1] == b"later"
