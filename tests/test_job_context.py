"""``aqueue.JobContext`` names exactly the keys a running task's ``ctx`` has, with their types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from arq.connections import ArqRedis

from aqueue import Client, JobContext, cron, task
from aqueue._envelope import JobEnvelope
from aqueue.scheduler import list_jobs, trigger
from tests.support import eventually

seen: list[dict[str, Any]] = []

# ctx is built above the transport: one is enough
pytestmark = pytest.mark.transport("wire")


@task
async def snapshot(ctx: JobContext) -> str:
    seen.append(dict(ctx))
    return ctx["job_id"]


def check_types(ctx: dict[str, Any]) -> None:
    assert isinstance(ctx["redis"], ArqRedis)
    assert isinstance(ctx["envelope"], JobEnvelope)
    assert callable(ctx["progress"])
    for key, kind in [("worker_id", str), ("job_id", str), ("job_try", int), ("score", int)]:
        assert isinstance(ctx[key], kind), key
    assert isinstance(ctx["enqueue_time"], datetime) and ctx["enqueue_time"].tzinfo is not None
    assert isinstance(ctx["queue_name"], str)


async def test_a_plain_job_sees_the_required_keys(client: Client, run_worker: Any) -> None:
    seen.clear()
    async with run_worker([snapshot]):
        job = await client.enqueue("snapshot")
        assert job is not None
        assert await job.result(timeout=10) == job.job_id
    (ctx,) = seen
    assert set(ctx) == JobContext.__required_keys__
    check_types(ctx)
    assert ctx["job_try"] == 1


async def test_a_cron_run_also_sees_the_cron_keys(client: Client, run_worker: Any) -> None:
    seen.clear()
    async with run_worker([snapshot], cron_jobs=[cron("0 0 1 1 *", snapshot, name="yearly")]):
        await eventually(lambda: list_jobs(client), "the cron job's registration")
        await trigger(client, "yearly")
        await eventually(lambda: seen, "the triggered cron run")
    (ctx,) = seen
    assert set(ctx) == JobContext.__required_keys__ | JobContext.__optional_keys__
    check_types(ctx)
    assert ctx["cron_name"] == "yearly"
    assert isinstance(ctx["scheduled_time"], datetime)
