"""Shared fixtures: one real redis-server for the session, flushed before every test."""

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
from aqueue._redis.wire import Wire
from aqueue.embedded import RedisServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
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

    @contextlib.asynccontextmanager
    async def start(functions: Sequence[Any], **options: Any) -> AsyncIterator[Worker]:
        options.setdefault("redis_settings", redis_url)
        options.setdefault("handle_signals", False)
        worker = Worker(functions, **options)
        runner = asyncio.create_task(worker.async_run())
        try:
            yield worker
        finally:
            worker.request_stop(force=True)
            await asyncio.wait_for(runner, 15)
            await worker.close()

    return start


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
