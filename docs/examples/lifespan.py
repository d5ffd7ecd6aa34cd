"""A worker's lifespan: resources opened once per worker process, in every job's ctx, closed on shutdown."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aqueue
from aqueue import JobContext, task

opened: list[str] = []


# --8<-- [start:lifespan]
class Pool:
    """Stands for a database pool or an HTTP client: something to open once and share."""

    def __init__(self) -> None:
        self.queries = 0

    async def fetch(self, key: str) -> str:
        self.queries += 1
        return key.upper()


@contextlib.asynccontextmanager
async def lifespan(ctx: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    pool = Pool()  # opened once, when the worker has connected to Redis
    opened.append("pool")
    try:
        yield {"pool": pool}  # merged into every job's ctx
    finally:
        opened.remove("pool")  # left on shutdown, even if start-up failed after this point


class Ctx(JobContext):
    pool: Pool


@task
async def lookup(ctx: Ctx, key: str) -> str:
    return await ctx["pool"].fetch(key)


class WorkerSettings:
    functions = [lookup]
    lifespan = lifespan


# --8<-- [end:lifespan]


async def main() -> None:
    async with aqueue.Client() as client:
        job = await client.enqueue("lookup", "answer")
        assert await job.result(timeout=10) == "ANSWER"
    assert opened == ["pool"]  # still open while the worker runs
