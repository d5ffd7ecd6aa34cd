"""WorkerSettings.lifespan: entered once per worker, its mapping in every job's ctx, left on shutdown."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aqueue import Client, Worker, task
from aqueue.settings import create_worker

EVENTS: list[str] = []


@contextlib.asynccontextmanager
async def resources(ctx: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    EVENTS.append(f"enter redis={ctx['redis'] is not None}")
    pool = {"connections": 3}
    try:
        yield {"db": pool}
    finally:
        EVENTS.append("exit")


@task
async def uses_db(ctx: dict[str, Any]) -> int:
    return int(ctx["db"]["connections"])


class Settings:
    functions = [uses_db]
    lifespan = resources
    burst = True


async def test_lifespan_mapping_reaches_every_job_and_is_left_on_shutdown(
    client: Client, redis_url: str
) -> None:
    EVENTS.clear()
    jobs = [await client.enqueue("uses_db") for _ in range(3)]
    worker = create_worker(Settings, redis_settings=redis_url, handle_signals=False)
    await worker.serve()
    assert [await job.result(timeout=5) for job in jobs if job is not None] == [3, 3, 3]
    assert EVENTS == ["enter redis=True", "exit"]  # once per worker, not per job


async def test_lifespan_is_left_even_when_start_up_fails_after_it(redis_url: str) -> None:
    EVENTS.clear()

    async def broken_startup(ctx: dict[str, Any]) -> None:
        raise RuntimeError("startup failed")

    worker = Worker(
        [uses_db],
        redis_settings=redis_url,
        lifespan=resources,
        on_startup=broken_startup,
        handle_signals=False,
    )
    with pytest.raises(RuntimeError, match="startup failed"):
        await worker.serve()
    assert EVENTS == ["enter redis=True", "exit"]
