"""A typed user file: mypy --strict and pyright must pass it without a single error."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, assert_type

import aqueue
from aqueue import Client, Job, Task, Worker, cron, task
from aqueue.tasks import as_task


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


@task(name="math.scale", timeout=30, max_tries=3)
def scale(ctx: dict[str, Any], x: float, *, by: float = 2.0) -> float:
    return x * by


@task
async def nothing(ctx: dict[str, Any]) -> None:
    return None


async def plain(ctx: dict[str, Any], text: str) -> str:
    return text.upper()


class WorkerSettings:
    functions = [add, scale, nothing, plain]
    cron_jobs = [cron("0 9 * * *", add, args=(1, 2))]


def worker() -> Worker:
    return Worker(functions=[add, scale, nothing, plain], redis_settings="redis://localhost:6379/0")


async def producer(client: Client, maybe_id: str | None) -> None:
    # a Task keeps its parameters (without ctx) and its result: async def and plain def alike
    assert_type(await add.enqueue(1, 2), Job[int])
    assert_type(await add.enqueue(1, y=2), Job[int])
    assert_type(await (await add.enqueue(1, 2)).result(), int)
    assert_type(await (await scale.enqueue(1.5, by=3)).result(timeout=5), float)
    assert_type(await (await nothing.enqueue()).result(), None)

    # options keep their _name form; only _job_id can give None (the job exists)
    assert_type(await add.enqueue(1, 2, _job_id="once"), Job[int] | None)
    assert_type(await add.enqueue(1, 2, _job_id=None), Job[int])
    assert_type(await add.enqueue(1, 2, _defer_by=10), Job[int])
    assert_type(await add.enqueue(1, 2, _defer_by=timedelta(seconds=1), _expires=60), Job[int])
    assert_type(await add.enqueue(1, 2, _queue_name="fast", _job_try=2), Job[int])
    assert_type(await add.enqueue(1, 2, _min_replicas=1), Job[int])
    assert_type(await add.enqueue(1, 2, _unique="k"), Job[int])
    assert_type(await add.enqueue(1, 2, _unique="k", _unique_for=60), Job[int])
    assert_type(await add.enqueue(1, 2, _unique="k", _debounce=timedelta(seconds=1)), Job[int])
    assert_type(await add.enqueue(1, 2, _unique="k", _job_id="once"), Job[int] | None)
    assert_type((await add.enqueue(1, 2, _unique="k")).deduplicated, bool)
    assert_type(await add.enqueue(1, 2, _job_id="once", _queue_name="fast"), Job[int] | None)
    assert_type(await add.enqueue(1, 2, _job_id=maybe_id), Job[int] | None)
    job = await add.enqueue(1, 2, _job_id="once")
    if job is not None:
        assert_type(await job.result(), int)

    # a Task on an explicit client, and on the default one
    assert_type(await client.enqueue(add, 1, 2), Job[int])
    assert_type(await client.enqueue(add, 1, 2, _defer_by=1.5), Job[int])
    assert_type(await client.enqueue(add, 1, 2, _min_replicas=1), Job[int])
    assert_type(await client.enqueue(add, 1, 2, _unique="k", _debounce=5), Job[int])
    assert_type(await client.enqueue(add, 1, 2, _job_id="x"), Job[int] | None)
    assert_type(await client.enqueue(scale, 2.0, by=1.0), Job[float])
    assert_type(await aqueue.enqueue(add, 1, 2), Job[int])
    assert_type(await aqueue.enqueue(add, 1, 2, _defer_by=10), Job[int])
    assert_type(await aqueue.enqueue(add, 1, 2, _min_replicas=1), Job[int])
    assert_type(await aqueue.enqueue(add, 1, 2, _unique="k"), Job[int])
    total: int = await (await aqueue.enqueue(add, 1, 2)).result(timeout=5)

    loose: Task[Any, Any] = as_task("tests.typing.good.add")
    assert_type(await loose.enqueue("not checked"), Job[Any])

    # by name (and plain functions) stay untyped by design
    assert_type(await client.enqueue("add", 1, "anything"), Job[Any])
    assert_type(await client.enqueue("add", 1, 2, _job_id="x"), Job[Any] | None)
    assert_type(await aqueue.enqueue("add", 1, 2, _queue_name="q"), Job[Any])
    assert_type(await client.enqueue(plain, 3), Job[Any])
    assert_type(await client.enqueue(plain, "a", _defer_by=1), Job[Any])
    assert_type(client.job("some-id"), Job[Any])
    by_name: int = await (await client.enqueue("add", 1, 2)).result()

    # run directly, and signatures for workflows
    assert_type(add.name, str)
    add.s(1, 2)
    add.si(1, 2)
    print(total, by_name)
