"""The embedded redis-server: lookup, TCP and unix-socket modes, persistence, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Client, Worker, task
from aqueue.embedded import RedisServer, find_redis_server
from aqueue.errors import ConfigurationError


@task
async def double(ctx: dict[str, Any], x: int) -> int:
    return 2 * x


def test_binary_lookup_honours_env_and_reports_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    found = find_redis_server()
    assert Path(found).name == "redis-server"
    monkeypatch.setenv("AQUEUE_REDIS_SERVER", found)
    assert find_redis_server() == found
    monkeypatch.setenv("AQUEUE_REDIS_SERVER", str(tmp_path / "nope"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigurationError, match="no redis-server found"):
        find_redis_server()


async def test_unix_socket_server_runs_jobs() -> None:
    with RedisServer(unix_socket=True) as server:
        assert server.url.startswith("unix://") and server.ping()
        async with Client(server.url) as client:
            worker = Worker([double], redis_settings=server.url, burst=True, handle_signals=False)
            job = await client.enqueue("double", 21)
            assert job is not None
            await worker.async_run()
            await worker.close()
            assert await job.result(timeout=5) == 42


def test_persistence_survives_restart_on_same_port(tmp_path: Path) -> None:
    first = RedisServer(persist=True, data_dir=tmp_path).start()
    port = first.port
    r = sync_redis.Redis(port=port)
    r.set("kept", "yes")
    r.close()
    first.stop(save=True)
    assert not first.ping()
    second = RedisServer(persist=True, data_dir=tmp_path, port=port).start()
    try:
        r = sync_redis.Redis(port=port)
        assert r.get("kept") == b"yes"
        r.close()
    finally:
        second.close()


def test_bad_binary_fails_with_its_output(tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'cannot start: broken build' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(ConfigurationError, match="cannot start: broken build"):
        RedisServer(binary=str(fake)).start(timeout=5)


def test_start_on_a_running_server_keeps_one_process() -> None:
    """A second start() must not launch (and then lose track of) another redis-server."""
    with RedisServer() as server:
        first = server.process
        assert first is not None
        assert server.start() is server and server.process is first
    assert first.poll() is not None  # stopped on exit: nothing leaked
