"""Timeouts and aborting jobs."""

import asyncio

import aqueue
from aqueue import JobContext, task

cleaned_up: list[str] = []


# --8<-- [start:timeout]
@task(timeout=0.2)  # seconds (or a timedelta); the worker-wide default is job_timeout=300
async def slow(ctx: JobContext) -> None:
    await asyncio.sleep(10)


# --8<-- [end:timeout]


# --8<-- [start:abortable]
@task
async def long_export(ctx: JobContext, name: str) -> str:
    try:
        await asyncio.sleep(60)  # the work; an abort cancels it at an await
        return "done"
    finally:
        cleaned_up.append(name)  # runs on abort too: release locks, remove temp files


# --8<-- [end:abortable]


class WorkerSettings:
    functions = [slow, long_export]


async def main() -> None:
    async with aqueue.Client() as client:
        # --8<-- [start:timeouts]
        job = await client.enqueue("slow")
        try:
            await job.result(timeout=10)
        except TimeoutError as e:  # the task's own timeout, re-raised from the worker
            assert not isinstance(e, aqueue.JobTimeout)
            assert str(e) == "slow timed out after 0.2s"
        else:
            raise AssertionError("slow() cannot finish in 0.2 s")

        job = await client.enqueue("long_export", "waiting")
        try:
            await job.result(timeout=0.1)  # we stop waiting; the job goes on
        except aqueue.JobTimeout:  # also a TimeoutError
            assert (await job.status()).value == "in_progress"
        else:
            raise AssertionError("long_export() takes a minute")
        # --8<-- [end:timeouts]

        # --8<-- [start:abort]
        assert await job.abort(timeout=5)  # cancels it on its worker; True once it ended aborted
        try:
            await job.result(timeout=5)
        except aqueue.JobAborted as e:
            assert "was aborted while running" in str(e)
        else:
            raise AssertionError("an aborted job has no result")

        later = await client.enqueue("long_export", "never", _defer_by=60)
        assert await later.abort()  # not started yet: dropped, it never runs
        assert (await later.status()).value == "complete"  # its outcome is stored: aborted
        # --8<-- [end:abort]
    assert cleaned_up == ["waiting"]
