"""Tasks with each kind of outcome, shared by the tests of what workers report (events, metrics)."""

from __future__ import annotations

from typing import Any

from aqueue import Retry, task


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


@task
async def boom(ctx: dict[str, Any]) -> None:
    raise ValueError("no")


@task(max_tries=2)
async def again(ctx: dict[str, Any]) -> str:
    if ctx["job_try"] == 1:
        raise Retry(defer=0)
    return "second"
