"""Tasks the dashboard tests run on real workers."""

from __future__ import annotations

import asyncio
from typing import Any

from aqueue import task


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


@task
async def boom(ctx: dict[str, Any], message: str) -> None:
    raise ValueError(message)


@task
async def crawl(ctx: dict[str, Any], steps: int, pause: float) -> str:
    """Report progress step by step, slowly enough for a page to see it move."""
    for step in range(1, steps + 1):
        await ctx["progress"](step / steps, f"step {step} of {steps}")
        await asyncio.sleep(pause)
    return "crawled"


TASKS = [add, boom, crawl]
