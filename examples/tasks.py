"""Worker side of the examples: tasks and their WorkerSettings.

Run a worker with:  aqueue worker examples.tasks.WorkerSettings
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from aqueue import cron, task


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    """Add two numbers (the classic)."""
    return x + y


@task(name="images.resize", timeout=30, max_tries=3, retry_on=OSError, retry_backoff=True)
async def resize(ctx: dict[str, Any], image_id: int, width: int = 800) -> dict[str, Any]:
    """Pretend to resize an image; OSErrors are retried with exponential backoff."""
    await asyncio.sleep(0.01)
    return {"image_id": image_id, "width": width, "try": ctx["job_try"]}


def checksum(ctx: dict[str, Any], data: bytes) -> str:
    """A plain ``def``: the worker runs it in a thread pool, off the event loop."""
    return hashlib.sha256(data).hexdigest()[:16]


@task
async def fetch(ctx: dict[str, Any], url: str) -> str:
    """Workflow step one: fetch a page (pretend)."""
    return f"<html>{url}</html>"


@task
async def parse(ctx: dict[str, Any], html: str) -> int:
    """Workflow step two: parse it (here: its length)."""
    return len(html)


@task
async def store(ctx: dict[str, Any], size: int, where: str) -> str:
    """Workflow step three: store the result."""
    return f"stored {size} in {where}"


@task(name="xsum")
async def xsum(ctx: dict[str, Any], numbers: list[int], *extra: list[int]) -> int:
    """Sum a list of numbers (and any extra lists): a chord callback."""
    return sum(numbers) + sum(sum(e) for e in extra)


async def weekday_report(ctx: dict[str, Any]) -> str:
    """Runs at 09:00 Paris time, Monday to Friday."""
    return f"report for {ctx.get('scheduled_time')}"


async def yearly_cleanup(ctx: dict[str, Any]) -> str:
    """Runs once a year, at midnight on 1 January in Paris."""
    return "cleaned"


class WorkerSettings:
    """arq-style settings: arq's Worker options keep their names."""

    functions = [add, resize, checksum, fetch, parse, store, xsum]
    cron_jobs = [
        cron("0 9 * * mon-fri", weekday_report, tz="Europe/Paris"),
        cron("@yearly", yearly_cleanup, tz="Europe/Paris"),
        cron("0 12 * * mon#2", "add", name="second-monday", args=(1, 1)),
        cron("0 18 L * *", "add", name="month-end", args=(2, 2), tz="America/New_York"),
    ]
    max_jobs = 50
    job_completion_wait = 5
