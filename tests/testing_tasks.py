"""Tasks for the tests of ``aqueue.testing``: every call is recorded in ``CALLS`` (in this process)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aqueue
from aqueue import Retry, cron, task

CALLS: list[tuple[str, Any]] = []


class PaymentDeclined(Exception):
    """A task's own error, importable here (so job.result() rebuilds it as itself)."""


class GatewayDown(Exception):
    """Retried automatically by ``charge_retrying``."""


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    CALLS.append(("add", (x, y)))
    return x + y


@task
async def decline(ctx: dict[str, Any], order: int) -> None:
    CALLS.append(("decline", order))
    raise PaymentDeclined(f"order {order} declined")


@task(max_tries=3)
async def flaky(ctx: dict[str, Any], fail_times: int) -> int:
    """Ask to be retried in 60 s (far longer than any test waits) until try ``fail_times + 1``."""
    CALLS.append(("flaky", ctx["job_try"]))
    if ctx["job_try"] <= fail_times:
        raise Retry(defer=60)
    return int(ctx["job_try"])


@task(max_tries=2, retry_on=GatewayDown, retry_backoff=30)
async def charge_retrying(ctx: dict[str, Any], order: int) -> None:
    CALLS.append(("charge_retrying", ctx["job_try"]))
    raise GatewayDown(f"gateway down for order {order}")


@task(timeout=0.2)
async def slow(ctx: dict[str, Any], seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@task(queue="emails")
async def email(ctx: dict[str, Any], to: str) -> str:
    """A task with a queue of its own."""
    CALLS.append(("email", (to, ctx["queue_name"])))
    return to


@task
async def nap(ctx: dict[str, Any], seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "rested"


@task
async def fan_out(ctx: dict[str, Any], n: int) -> int:
    """Enqueue ``n`` add jobs and wait for them: an enqueue from inside a task."""
    jobs = [await add.enqueue(i, i) for i in range(n)]
    results = [await job.result(timeout=10) for job in jobs if job is not None]
    CALLS.append(("fan_out", results))
    return sum(results)


@task
async def fire_and_forget(ctx: dict[str, Any]) -> None:
    """Enqueue a job by name and do not wait for it."""
    await aqueue.enqueue("add", 40, 2)


@task
async def unencodable_result(ctx: dict[str, Any]) -> object:
    return object()


async def morning_report(ctx: dict[str, Any]) -> str:
    scheduled: datetime = ctx["scheduled_time"]
    CALLS.append(("morning_report", scheduled))
    return scheduled.isoformat()


class Settings:
    functions = [
        add,
        decline,
        flaky,
        charge_retrying,
        slow,
        nap,
        fan_out,
        fire_and_forget,
        unencodable_result,
    ]


class CronSettings:
    functions = [add]
    cron_jobs = [cron("0 9 * * *", morning_report, name="morning", tz="Europe/Paris")]
