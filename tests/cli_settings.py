"""Worker settings used by the CLI tests."""

from typing import Any

from aqueue import task


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


class WorkerSettings:
    functions = [add]
    max_jobs = 10


class BadSettings:
    functions = ["not a function"]
