"""A typed user file with mistakes: each marked line must be reported, with these codes, and no other.

A mark is a trailing comment: mypy's error codes, a bar, pyright's rules (tests/test_typing.py reads them).
"""

from __future__ import annotations

from typing import Any

import aqueue
from aqueue import Client, task


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


@task(name="math.scale")
def scale(ctx: dict[str, Any], x: float, *, by: float = 2.0) -> float:
    return x * by


@task  # mypy: arg-type | pyright: reportCallIssue,reportArgumentType,reportUntypedFunctionDecorator
async def no_ctx() -> int:
    return 1


async def producer(client: Client) -> None:
    await add.enqueue("x")  # mypy: call-overload | pyright: reportCallIssue
    await add.enqueue(1)  # mypy: call-overload | pyright: reportCallIssue
    await add.enqueue(1, 2, 3)  # mypy: call-overload | pyright: reportCallIssue
    await add.enqueue(1, z=2)  # mypy: call-overload | pyright: reportCallIssue
    await add.enqueue(1, 2, _job_idd="x")  # mypy: call-overload | pyright: reportCallIssue
    await add.enqueue(1, 2, _job_id=3)  # mypy: call-overload | pyright: reportCallIssue,reportArgumentType
    await add.enqueue(1, 2, _defer_by="soon")  # mypy: call-overload | pyright: reportArgumentType
    text: str = await (await add.enqueue(1, 2)).result()  # mypy: assignment | pyright: reportAssignmentType
    maybe = await add.enqueue(1, 2, _job_id="once")
    job_id = maybe.job_id  # mypy: union-attr | pyright: reportOptionalMemberAccess
    await scale.enqueue("1.5")  # mypy: call-overload | pyright: reportArgumentType
    await scale.enqueue(1.5, 2.0)  # mypy: call-overload | pyright: reportCallIssue
    count: int = await (await scale.enqueue(1.5)).result()  # mypy: assignment | pyright: reportAssignmentType
    await client.enqueue(add, "x", 2)  # mypy: call-overload | pyright: reportCallIssue,reportArgumentType
    await client.enqueue(add, 1)  # mypy: call-overload | pyright: reportCallIssue
    await aqueue.enqueue(add, 1, "y")  # mypy: call-overload | pyright: reportCallIssue,reportArgumentType
    await aqueue.enqueue(scale, 1.0, by="2")  # mypy: arg-type | pyright: reportCallIssue,reportArgumentType
    print(text, count, job_id)
