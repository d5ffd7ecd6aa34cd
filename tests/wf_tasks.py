"""Tasks for the workflow runtime tests, for in-process workers and worker *child processes*.

Run as ``python -m aqueue worker tests.wf_tasks.<Settings>``; Redis comes from ``AQUEUE_REDIS_URL``.
Every task records each call in Redis (``wft:calls:{task}``: the job id, once per call — a map job
calls its function once per item under one job id), so a test can count jobs and calls. Producers
never import this module: they address tasks by name.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import orjson

from aqueue import Retry, task

CALLS = "wft:calls:"


class Boom(Exception):
    """A task's own error, importable by the test process (so it is rebuilt as itself)."""


async def _called(ctx: dict[str, Any], name: str) -> None:
    await ctx["redis"].rpush(CALLS + name, ctx["job_id"])


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    await _called(ctx, "add")
    return x + y


@task
async def fetch(ctx: dict[str, Any], url: str) -> str:
    await _called(ctx, "fetch")
    return f"<html>{url}</html>"


@task
async def parse(ctx: dict[str, Any], html: str) -> int:
    await _called(ctx, "parse")
    return len(html)


@task
async def store(ctx: dict[str, Any], size: int, where: str) -> str:
    await _called(ctx, "store")
    return f"stored {size} in {where}"


@task(name="xsum")
async def xsum(ctx: dict[str, Any], numbers: list[int], *extra: list[int]) -> int:
    await _called(ctx, "xsum")
    return sum(numbers) + sum(sum(e) for e in extra)


@task
async def inc(ctx: dict[str, Any], x: int) -> int:
    await _called(ctx, "inc")
    return x + 1


@task
async def echo(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> list[Any]:
    """Return ``[tag, *args]`` as received (``args[0]`` is the tag): shows exactly what was prepended."""
    await _called(ctx, "echo")
    return [*args, kwargs] if kwargs else list(args)


@task
async def tag(ctx: dict[str, Any], name: str) -> str:
    """Record ``name`` in ``wft:ran`` and return it (for graphs whose shape matters, not values)."""
    await _called(ctx, "tag")
    await ctx["redis"].rpush("wft:ran", name)
    return name


@task
async def join(ctx: dict[str, Any], parts: list[Any], name: str) -> list[Any]:
    """A fan-in: record ``name`` in ``wft:ran``, return ``[name, parts]``."""
    await _called(ctx, "join")
    await ctx["redis"].rpush("wft:ran", name)
    return [name, parts]


@task(timeout=60)
async def at(ctx: dict[str, Any], name: str, when_ms: int) -> str:
    """Sleep until the wall clock reaches ``when_ms`` then return ``name``: parents that end together.

    Records ``job_id worker_id`` in ``wft:at-by`` (a worker id ends with ``-{pid}-{hex}``).
    """
    await _called(ctx, "at")
    await ctx["redis"].rpush("wft:at-by", f"{ctx['job_id']} {ctx['worker_id']}")
    await asyncio.sleep(max(when_ms / 1000 - time.time(), 0))
    return name


@task(timeout=120)
async def pause(ctx: dict[str, Any], name: str, seconds: float) -> str:
    """Record start (``wft:start:{name}`` ← pid:try), sleep, record finish; return ``name``.

    ``wft:duration:{name}``, if set when an attempt starts, overrides ``seconds``.
    """
    r = ctx["redis"]
    await _called(ctx, "pause")
    await r.rpush(f"wft:start:{name}", f"{os.getpid()}:{ctx['job_try']}")
    override = await r.get(f"wft:duration:{name}")
    await asyncio.sleep(float(override) if override is not None else seconds)
    await r.rpush(f"wft:finish:{name}", f"{os.getpid()}:{ctx['job_try']}")
    return name


@task
async def fail(ctx: dict[str, Any], message: str) -> None:
    """Raise :class:`Boom` (no retries)."""
    await _called(ctx, "fail")
    raise Boom(message)


@task(max_tries=3)
async def retry_then_fail(ctx: dict[str, Any], message: str) -> None:
    """Ask for a retry every time: fails with MaxTriesExceeded after 3 tries."""
    await _called(ctx, "retry_then_fail")
    raise Retry(defer=0.01)


@task(max_tries=100)
async def retry_forever(ctx: dict[str, Any], seconds: float) -> None:
    """Work ``seconds``, then ask for a retry at once, every time (100 tries)."""
    await _called(ctx, "retry_forever")
    await asyncio.sleep(seconds)
    raise Retry(defer=0)


@task(max_tries=5, retry_on=Boom, retry_backoff=0.01)
async def flaky(ctx: dict[str, Any], message: str) -> None:
    """Raise :class:`Boom`, retried automatically (``retry_on``) until its tries are spent."""
    await _called(ctx, "flaky")
    raise Boom(f"{message} (try {ctx['job_try']})")


@task
async def unencodable(ctx: dict[str, Any]) -> object:
    """Return a value the JSON serializer cannot encode."""
    await _called(ctx, "unencodable")
    return object()


@task
async def errback(ctx: dict[str, Any], info: dict[str, Any], label: str) -> None:
    """An ``on_error`` callback: store ``[label, info]`` as JSON in ``wft:errbacks``."""
    await _called(ctx, "errback")
    await ctx["redis"].rpush("wft:errbacks", orjson.dumps([label, info]))


@task
async def errback_static(ctx: dict[str, Any], label: str) -> None:
    """An immutable ``on_error`` callback: it receives no failure info."""
    await _called(ctx, "errback_static")
    await ctx["redis"].rpush("wft:errbacks", orjson.dumps([label, None]))


ALL = [
    add,
    fetch,
    parse,
    store,
    xsum,
    inc,
    echo,
    tag,
    join,
    at,
    pause,
    fail,
    retry_then_fail,
    retry_forever,
    flaky,
    unencodable,
    errback,
    errback_static,
]


class ShortLeaseSettings:
    """A 1 s lease: a killed worker's claims lapse quickly and another process takes them."""

    functions = ALL
    lease_s = 1.0
    max_jobs = 10
    job_completion_wait = 1


async def calls(client: Any, name: str) -> list[str]:
    """Return the job id of every call of task ``name``, in call order."""
    return [x.decode() for x in await client.redis.lrange(CALLS + name, 0, -1)]
