"""Shared fixtures: one real redis-server for the session, flushed before every test.

Every test that talks to it (through ``redis_url`` and the fixtures built on it) runs twice, once per
hot-path transport (``[wire]`` and ``[redis-py]``, see :mod:`aqueue._redis.transport`): the redis-py
path is the one TLS and Sentinel users take. ``AQUEUE_TRANSPORT`` is set for the test, so clients and
workers the test makes, in this process or in child processes, use that transport.
``pytest --transport wire`` (or ``redis-py``) runs one; ``@pytest.mark.transport("wire")`` pins a test
that is about one transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Client, Worker
from aqueue._redis.connection import resolve_settings
from aqueue._redis.transport import ENV_TRANSPORT
from aqueue._redis.wire import Wire
from aqueue.embedded import RedisServer

ROOT = Path(__file__).resolve().parent.parent
#: The hot-path transports the suite runs on.
TRANSPORTS = ("wire", "redis-py")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--transport",
        choices=("both", *TRANSPORTS),
        default="both",
        help="the hot-path transport(s) tests that use Redis run on (default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "transport" not in metafunc.fixturenames:
        return
    chosen = metafunc.config.getoption("--transport")
    names = list(TRANSPORTS) if chosen == "both" else [chosen]
    pinned = metafunc.definition.get_closest_marker("transport")
    if pinned is not None:
        names = [name for name in names if name == pinned.args[0]] or [pinned.args[0]]
    metafunc.parametrize("transport", names, indirect=True)


@pytest.fixture
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The hot-path transport of this test run: what ``transport="auto"`` means while it runs."""
    name: str = request.param
    monkeypatch.setenv(ENV_TRANSPORT, name)
    return name


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer, transport: str) -> str:
    r = sync_redis.Redis.from_url(redis_server.url)
    r.flushall()
    r.close()
    return redis_server.url


@pytest.fixture
def sync_r(redis_url: str) -> Iterator[sync_redis.Redis]:
    r = sync_redis.Redis.from_url(redis_url)
    yield r
    r.close()


@pytest.fixture
async def wire(redis_url: str) -> AsyncIterator[Wire]:
    """A lean hot-path connection (``aqueue._redis.wire.Wire``) to the test Redis."""
    w = Wire(resolve_settings(redis_url))
    yield w
    await w.aclose()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Client]:
    async with Client(redis_url) as c:
        yield c


WorkerFactory = Callable[..., contextlib.AbstractAsyncContextManager[Worker]]


@pytest.fixture
def run_worker(redis_url: str) -> WorkerFactory:
    """Start an in-process worker for the block: ``async with run_worker([fn], max_jobs=5) as w``."""

    def start(functions: Sequence[Any], **options: Any) -> contextlib.AbstractAsyncContextManager[Worker]:
        return serving(options.pop("redis_settings", redis_url), functions, **options)

    return start


@contextlib.asynccontextmanager
async def serving(redis: Any, functions: Sequence[Any], **options: Any) -> AsyncIterator[Worker]:
    """Run an in-process worker on ``redis`` (a URL or settings) for the block; stop it after."""
    options.setdefault("handle_signals", False)
    worker = Worker(functions, redis_settings=redis, **options)
    runner = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        worker.request_stop(force=True)
        await asyncio.wait_for(runner, 15)
        await worker.close()


def subprocess_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "AQUEUE_REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1", **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def run_cli(
    *args: str, redis_url: str, cwd: Path | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m aqueue ARGS`` to completion; return its captured output."""
    return subprocess.run(
        [sys.executable, "-m", "aqueue", *args],
        cwd=cwd or ROOT,
        env=subprocess_env(redis_url),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def aqueue_cli(*args: str, redis_url: str, cwd: Path | None = None, **popen: Any) -> subprocess.Popen[str]:
    """Start ``python -m aqueue ARGS`` as a child process."""
    return subprocess.Popen(
        [sys.executable, "-m", "aqueue", *args],
        cwd=cwd or ROOT,
        env=subprocess_env(redis_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )
