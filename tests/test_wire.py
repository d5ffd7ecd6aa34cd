"""The lean connection (``aqueue._redis.wire.Wire``) on a real redis-server: replies, errors, reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis as sync_redis
from arq.connections import RedisSettings
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError

from aqueue import Client
from aqueue._redis.connection import resolve_settings
from aqueue._redis.wire import Wire, eligible
from aqueue.embedded import RedisServer
from aqueue.errors import RedisUnavailableError

pytestmark = pytest.mark.transport("wire")  # the Wire itself (a pool passed in is redis-py by design)


async def test_concurrent_calls_pipeline_and_each_gets_its_own_reply(wire: Wire) -> None:
    replies = await asyncio.gather(*(wire.execute("ECHO", f"m{i}") for i in range(500)))
    assert replies == [f"m{i}".encode() for i in range(500)]


async def test_arguments_of_every_type_are_sent_as_redis_strings(wire: Wire) -> None:
    await wire.execute("RPUSH", "l", "text", b"\x00bytes", 42, 1.5)
    assert await wire.execute("LRANGE", "l", 0, -1) == [b"text", b"\x00bytes", b"42", b"1.5"]


async def test_an_error_reply_raises_and_later_replies_stay_matched(wire: Wire) -> None:
    await wire.execute("SET", "s", "x")
    bad = wire.call("LPUSH", "s", "y")  # wrong type
    good = wire.call("GET", "s")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await bad
    assert await good == b"x"


async def test_a_reply_nobody_waits_for_is_dropped_not_handed_to_the_next_caller(wire: Wire) -> None:
    blocked = wire.call("BLPOP", "nothing", 0.2)
    blocked.cancel()
    assert await wire.execute("ECHO", "next") == b"next"  # read after BLPOP's own (nil) reply


async def test_reconnects_after_the_server_drops_the_connection(wire: Wire, sync_r: sync_redis.Redis) -> None:
    client_id = await wire.execute("CLIENT", "ID")
    in_flight = wire.call("BLPOP", "nothing", 5)
    assert sync_r.client_kill_filter(_id=client_id) == 1
    with pytest.raises(ConnectionError):
        await in_flight  # never re-sent: the caller learns it may not have run
    assert await wire.execute("ECHO", "again") == b"again"
    assert await wire.execute("CLIENT", "ID") != client_id


async def test_selects_the_database_in_the_url(redis_url: str, sync_r: sync_redis.Redis) -> None:
    db5_url = redis_url.rsplit("/", 1)[0] + "/5"
    w = Wire(resolve_settings(db5_url))
    try:
        await w.execute("SET", "in-db-5", "yes")
    finally:
        await w.aclose()
    assert sync_r.get("in-db-5") is None
    db5 = sync_redis.Redis.from_url(db5_url)
    assert db5.get("in-db-5") == b"yes"
    db5.close()


async def test_unreachable_server_raises_connection_error() -> None:
    w = Wire(resolve_settings("redis://127.0.0.1:1/0"))
    with pytest.raises(ConnectionError, match="cannot connect"):
        await w.execute("PING")


async def test_closed_wire_refuses_calls(wire: Wire) -> None:
    assert await wire.execute("PING") == b"PONG"
    await wire.aclose()
    with pytest.raises(ConnectionError, match="closed"):
        await wire.execute("PING")


def test_tcp_unix_tls_and_sentinel_settings_take_the_wire() -> None:
    assert eligible(resolve_settings("redis://127.0.0.1:6379/0"))
    assert eligible(resolve_settings("unix:///tmp/redis.sock"))
    assert eligible(resolve_settings("rediss://127.0.0.1:6379/0"))
    assert eligible(resolve_settings("redis+sentinel://127.0.0.1:26379/mymaster"))
    broken = RedisSettings(host=[("127.0.0.1", 26379)])  # a host list without sentinel=True
    assert not eligible(broken)
    with pytest.raises(ValueError, match="Wire needs a host"):
        Wire(broken)


@pytest.fixture(scope="module")
def password_server() -> Iterator[RedisServer]:
    """A server of its own with a default-user password and an ACL user ``alice``."""
    with RedisServer() as server:
        r = sync_redis.Redis(port=server.port)
        r.acl_setuser("alice", enabled=True, passwords=["+alice-pw"], keys=["*"], commands=["+@all"])
        r.config_set("requirepass", "s3cret")
        r.close()
        yield server


@pytest.mark.parametrize("userinfo", [":s3cret", "alice:alice-pw"])
async def test_authenticates_with_password_or_acl_user(password_server: RedisServer, userinfo: str) -> None:
    w = Wire(resolve_settings(f"redis://{userinfo}@127.0.0.1:{password_server.port}/0"))
    try:
        assert await w.execute("PING") == b"PONG"
    finally:
        await w.aclose()


async def test_wrong_password_raises_authentication_error(password_server: RedisServer) -> None:
    w = Wire(resolve_settings(f"redis://:wrong@127.0.0.1:{password_server.port}/0"))
    with pytest.raises(AuthenticationError):
        await w.execute("PING")


async def test_client_enqueues_through_the_wire_with_a_password(password_server: RedisServer) -> None:
    async with Client(f"redis://:s3cret@127.0.0.1:{password_server.port}/0") as client:
        job = await client.enqueue("anything", 1)
        assert job is not None and await job.status() == "queued"


async def test_enqueue_on_a_dead_server_raises_redis_unavailable() -> None:
    with RedisServer() as server:
        client = await Client(server.url, retry_window_s=0).connect()
    try:
        with pytest.raises(RedisUnavailableError, match="lost Redis"):
            await client.enqueue("anything")
    finally:
        await client.aclose()


async def double(ctx: dict[str, object], x: int) -> int:
    return 2 * x


async def test_without_a_wire_a_pool_passed_in_serves_producer_and_worker(redis_url: str) -> None:
    # TLS, Sentinel and pools passed in keep redis-py for the hot path: the same behaviour, slower.
    from aqueue import Worker
    from aqueue._redis.connection import connect

    pool = await connect(resolve_settings(redis_url))
    worker = Worker([double], redis_pool=pool, handle_signals=False, lease_s=30)
    runner = asyncio.create_task(worker.async_run())
    try:
        async with Client(pool) as client:
            assert client.transport.name == "redis-py"
            for i in range(20):  # the idle worker gets each job handed over through redis-py's BLPOP
                while not await client.redis.smembers(client.keys.idle(client.default_queue)):
                    await asyncio.sleep(0.002)
                if i % 2:
                    worker._nudge.set()
                job = await client.enqueue("double", i)
                assert job is not None
                assert await job.result(timeout=5) == 2 * i
        assert worker._transport is not None and worker._transport.name == "redis-py"
    finally:
        worker.request_stop(force=True)
        await asyncio.wait_for(runner, 15)
        await worker.close()
        await pool.aclose()


async def test_calls_made_while_connecting_are_sent_in_call_order(redis_url: str) -> None:
    w = Wire(resolve_settings(redis_url))
    try:
        first = w.call("SET", "order", "1")  # not connected yet: these wait for the connection
        second = w.call("APPEND", "order", "2")
        gave_up = w.call("APPEND", "order", "x")
        gave_up.cancel()  # never sent
        third = w.call("APPEND", "order", "3")
        await asyncio.gather(first, second, third)
        assert await w.execute("GET", "order") == b"123"
    finally:
        await w.aclose()


async def test_calls_waiting_for_a_connection_that_fails_all_get_the_error() -> None:
    w = Wire(resolve_settings("redis://127.0.0.1:1/0"))
    calls = [w.call("PING") for _ in range(3)]
    for call in calls:
        with pytest.raises(ConnectionError, match="cannot connect"):
            await call
