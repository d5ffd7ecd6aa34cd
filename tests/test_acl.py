"""An ACL user with a password and limited rights, on both transports: it works; a wrong password fails."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis as sync_redis
from redis.exceptions import AuthenticationError

from aqueue import Client, Worker
from aqueue._redis.connection import resolve_settings
from aqueue._redis.wire import Wire
from aqueue.embedded import RedisServer
from aqueue.errors import RedisAuthError

USER, PASSWORD = "producer", "pr0ducer-pw"
#: What the user may do: every command but the admin and dangerous ones, on aqueue's keys and channels only.
RIGHTS = ["on", f">{PASSWORD}", "~arq:*", "resetchannels", "&arq:*", "+@all", "-@admin", "-@dangerous"]


@pytest.fixture(scope="module")
def acl_server() -> Iterator[RedisServer]:
    """A server of its own (ACL users outlive FLUSHALL); its default user has a password of its own."""
    with RedisServer(password="admin-pw") as server:
        admin = sync_redis.Redis(port=server.port, password="admin-pw")
        admin.execute_command("ACL", "SETUSER", USER, *RIGHTS)
        admin.close()
        yield server


@pytest.fixture
def user_url(acl_server: RedisServer, transport: str) -> str:
    with sync_redis.Redis(port=acl_server.port, password="admin-pw") as admin:
        admin.flushall()
    return f"redis://{USER}:{PASSWORD}@127.0.0.1:{acl_server.port}/0"


async def double(ctx: dict[str, Any], x: int) -> int:
    return 2 * x


async def test_a_limited_acl_user_enqueues_works_and_reads_results(user_url: str, transport: str) -> None:
    async with Client(user_url) as client:
        job = await client.enqueue("double", 21)
        assert job is not None
        worker = Worker([double], redis_settings=user_url, burst=True, handle_signals=False)
        await worker.async_run()
        assert worker._transport is not None and worker._transport.name == transport
        await worker.close()
        assert await job.result(timeout=5) == 42
        assert client._transport is not None and client._transport.name == transport


async def test_the_user_is_really_limited(user_url: str) -> None:
    wire = Wire(resolve_settings(user_url))
    try:
        assert await wire.execute("SET", "arq:mine", 1) == b"OK"
        with pytest.raises(AuthenticationError, match="NOPERM"):  # a key outside ~arq:*
            await wire.execute("SET", "elsewhere", 1)
        with pytest.raises(AuthenticationError, match="NOPERM"):
            await wire.execute("FLUSHALL")
    finally:
        await wire.aclose()


async def test_a_wrong_password_of_an_acl_user_is_refused_at_once(
    acl_server: RedisServer, transport: str
) -> None:
    bad = f"redis://{USER}:wrong@127.0.0.1:{acl_server.port}/0"
    started = time.monotonic()
    with pytest.raises(RedisAuthError, match="WRONGPASS"):
        await Client(bad).connect()
    with pytest.raises(RedisAuthError, match="WRONGPASS"):
        await Worker([double], redis_settings=bad, burst=True, handle_signals=False).async_run()
    wire = Wire(resolve_settings(bad))
    with pytest.raises(AuthenticationError, match="WRONGPASS"):
        await wire.execute("PING")
    await wire.aclose()
    assert time.monotonic() - started < 1
