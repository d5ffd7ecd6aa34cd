"""Defining tasks: options, the typed ctx, resources from on_startup, plain def tasks, progress."""

import asyncio
import hashlib
import time

import aqueue
from aqueue import JobContext, task


# --8<-- [start:options]
@task(
    name="reports.build",  # what producers enqueue; default: the function's name
    queue="reports",  # where `build_report.enqueue(...)` sends it (workers serve one queue each)
    timeout=60,  # seconds; default: the worker's job_timeout (300)
    max_tries=3,  # runs at most 3 times; default: the worker's max_tries (5)
    keep_result=3600,  # seconds the result is kept; default: the worker's keep_result (3600)
)
async def build_report(ctx: JobContext, account: str) -> str:
    return f"report for {account}"


# --8<-- [end:options]


# --8<-- [start:ctx]
class Ctx(JobContext):  # the keys aqueue provides, plus what on_startup adds
    greeting: str


async def startup(ctx: dict) -> None:  # once per worker, before it takes jobs
    ctx["greeting"] = "hello"  # a database pool, an HTTP client, ...


@task
async def greet(ctx: Ctx, name: str) -> str:
    assert ctx["job_try"] == 1 and ctx["job_id"]
    return f"{ctx['greeting']}, {name} (job {ctx['job_id'][:8]}, try {ctx['job_try']})"


# --8<-- [end:ctx]


# --8<-- [start:thread]
@task
def checksum(ctx: JobContext, data: bytes) -> str:  # a plain def runs in a thread
    time.sleep(0.05)  # blocking is fine here: the worker's event loop keeps running
    return hashlib.sha256(data).hexdigest()[:12]


# --8<-- [end:thread]


# --8<-- [start:progress]
@task
async def resize_all(ctx: JobContext, count: int) -> int:
    for done in range(1, count + 1):
        await asyncio.sleep(0.01)  # resize one image
        await ctx["progress"](done / count, f"resized {done} of {count}")
    return count


# --8<-- [end:progress]


class WorkerSettings:
    functions = [greet, checksum, resize_all]
    on_startup = startup


async def main() -> None:
    # --8<-- [start:produce]
    job = await aqueue.enqueue("greet", "Ada")
    assert (await job.result(timeout=10)).startswith("hello, Ada (job ")

    jobs = [await aqueue.enqueue(checksum, b"%d" % i) for i in range(4)]  # a Task works too
    sums = [await j.result(timeout=10) for j in jobs]  # the four ran side by side, in threads
    assert sums[0] == "5feceb66ffc8"

    job = await aqueue.enqueue("resize_all", 5)
    assert await job.result(timeout=10) == 5
    progress = await job.progress()  # the latest report: value, message, when
    assert (progress.value, progress.message) == (1.0, "resized 5 of 5")
    # --8<-- [end:produce]
    await aqueue.close_default_client()
