"""Tasks and worker settings imported by the worker *child processes* of ``test_processes.py``.

Run as ``python -m aqueue worker tests.proc_tasks.<Settings>``; Redis comes from ``AQUEUE_REDIS_URL``.
Every task leaves its traces in Redis under ``proc:`` keys so the test process can see which worker
process (pid) did what. Producers never import this module: they address tasks by name.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from aqueue import Retry, task


@task
async def noop(ctx: dict[str, Any], value: Any = None) -> Any:
    """Return ``value``."""
    return value


@task
async def mark(ctx: dict[str, Any], i: int) -> dict[str, int]:
    """Append ``i:pid`` to ``proc:marks`` and return who ran it."""
    await ctx["redis"].rpush("proc:marks", f"{i}:{os.getpid()}")
    await asyncio.sleep(0.005)
    return {"i": i, "pid": os.getpid(), "try": ctx["job_try"]}


@task(timeout=300)
async def step(ctx: dict[str, Any], tag: str, seconds: float) -> dict[str, int]:
    """Record the start (pid), sleep, record the finish (pid), return who ran it.

    ``proc:duration:{tag}`` (if set when the attempt starts) overrides ``seconds``, so a test can make
    a job long for its first worker and short for the next one.
    """
    r = ctx["redis"]
    pid = os.getpid()
    override = await r.get(f"proc:duration:{tag}")  # read before announcing the start: no race
    await r.rpush(f"proc:started:{tag}", pid)
    await asyncio.sleep(float(override) if override is not None else seconds)
    await r.rpush(f"proc:finished:{tag}", pid)
    return {"pid": pid, "try": ctx["job_try"]}


@task(timeout=300)
async def stubborn(ctx: dict[str, Any], tag: str, seconds: float) -> dict[str, int]:
    """Like ``step``, but runs to the end whatever cancels it, and on its first try asks for a retry.

    Models a stale worker's continuation: whatever the first attempt reports after losing its claim
    (here a Retry that would re-queue the job) must not be recorded.
    """
    r = ctx["redis"]
    pid = os.getpid()

    async def body() -> dict[str, int]:
        override = await r.get(f"proc:duration:{tag}")
        await r.rpush(f"proc:started:{tag}", pid)
        await asyncio.sleep(float(override) if override is not None else seconds)
        await r.rpush(f"proc:finished:{tag}", pid)
        if ctx["job_try"] == 1:
            raise Retry(defer=0)
        return {"pid": pid, "try": ctx["job_try"]}

    inner = asyncio.ensure_future(body())
    while True:
        try:
            return await asyncio.shield(inner)
        except asyncio.CancelledError:
            if inner.cancelled():
                raise
            await r.rpush(f"proc:cancelled:{tag}", pid)


@task(timeout=300)
async def nap(ctx: dict[str, Any], seconds: float) -> dict[str, int]:
    """Sleep without touching Redis (so it can run through a Redis outage) and return the pid."""
    await asyncio.sleep(seconds)
    return {"pid": os.getpid(), "try": ctx["job_try"]}


@task
async def suicide(ctx: dict[str, Any]) -> None:
    """Record the pid, then SIGKILL the worker process running it: every delivery kills its worker."""
    await ctx["redis"].rpush("proc:suicides", os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


@task(timeout=300)
async def ordered(ctx: dict[str, Any], tag: str, seconds: float = 0) -> dict[str, int]:
    """Append ``tag`` to ``proc:order`` as it starts, then sleep (``proc:duration:{tag}`` overrides)."""
    r = ctx["redis"]
    override = await r.get(f"proc:duration:{tag}")
    await r.rpush("proc:order", tag)
    await asyncio.sleep(float(override) if override is not None else seconds)
    return {"pid": os.getpid(), "try": ctx["job_try"]}


ALL = [noop, mark, step, stubborn, nap, suicide, ordered]


class BasicSettings:
    """Default lease (5 s), explicit 10 s shutdown grace."""

    functions = ALL
    job_completion_wait = 10


class ShortGraceSettings:
    """Shutdown grace of 1 s: longer jobs are handed back to the queue."""

    functions = ALL
    job_completion_wait = 1


class ShortLeaseSettings:
    """A 1 s lease: a stopped worker loses its claims quickly."""

    functions = ALL
    lease_s = 1.0
    job_completion_wait = 2


class OneAtATimeSettings:
    """A 1 s lease, one job at a time: the order of claims shows."""

    functions = ALL
    lease_s = 1.0
    max_jobs = 1
    job_completion_wait = 2


class DeadLetterSettings:
    """A 1 s lease and dead-lettering after 3 deliveries without an outcome."""

    functions = ALL
    lease_s = 1.0
    max_deliveries = 3
    job_completion_wait = 1


class OutageSettings:
    """A lease longer than the Redis outage in the test, so the running job's outcome is still ours."""

    functions = ALL
    lease_s = 10.0
    job_completion_wait = 2
