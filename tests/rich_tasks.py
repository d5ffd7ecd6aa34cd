"""Tasks for a worker process that imports no rich type itself: it must find them by import path."""

from __future__ import annotations

from typing import Any

from aqueue import task


@task
async def describe(ctx: dict[str, Any], *values: Any) -> list[Any]:
    """Return each argument with the name of the class the worker rebuilt it as."""
    return [[f"{type(v).__module__}:{type(v).__qualname__}", v] for v in values]


class WorkerSettings:
    functions = [describe]
    burst = True
    poll_delay = 0.05
