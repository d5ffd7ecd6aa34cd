"""Celery idioms written with aqueue: a retried task, progress, beat schedules, a canvas."""

from datetime import datetime

import aqueue
from aqueue import Backoff, JobContext, cron, task
from aqueue.workflows import chord, group, sig


class Unavailable(ConnectionError):
    pass


# --8<-- [start:task]
@task(
    name="tasks.fetch_feed",
    timeout=30,  # time_limit (there is no soft limit)
    max_tries=4,  # max_retries=3: four runs in all
    retry_on=Unavailable,  # autoretry_for
    retry_backoff=Backoff(base_s=0.01, max_s=600, jitter=True),  # retry_backoff, _max, retry_jitter
    keep_result=86400,  # result_expires (ignore_result=True: keep_result=0)
)
async def fetch_feed(ctx: JobContext, url: str) -> int:  # bind=True: ctx has the request's details
    if ctx["job_try"] == 1:  # self.request.retries == ctx["job_try"] - 1
        raise Unavailable(url)
    await ctx["progress"](1.0, "parsed")  # self.update_state(state="PROGRESS", meta=...)
    return len(url)


# --8<-- [end:task]


@task
async def add(ctx: JobContext, x: int, y: int) -> int:
    return x + y


@task
async def tsum(ctx: JobContext, numbers: list[int]) -> int:
    return sum(numbers)


@task
async def cleanup(ctx: JobContext) -> None: ...


# --8<-- [start:beat]
class WorkerSettings:
    functions = [fetch_feed, add, tsum, cleanup]
    cron_jobs = [  # beat_schedule: in the workers' settings, no beat process
        cron("0 9 * * mon-fri", "tasks.fetch_feed", name="morning-feed", args=("https://x.test/f",)),
        cron("*/30 * * * * *", cleanup),  # schedule=30.0: seconds are a sixth field
        cron("0 7 * * *", "add", name="daily-add", args=(1, 2), tz="Europe/Paris"),  # nowfun/timezone
    ]


# --8<-- [end:beat]


async def main() -> None:
    # --8<-- [start:calls]
    job = await fetch_feed.enqueue("https://x.test/f", _defer_by=0)  # .delay / .apply_async(countdown=)
    assert await job.result(timeout=10) == 16  # AsyncResult.get(timeout=10)
    assert (await job.progress()).message == "parsed"  # AsyncResult.info while PROGRESS

    later = await aqueue.enqueue("add", 1, 2, _defer_until=datetime(2100, 1, 1).astimezone())  # eta=
    assert (await later.status()).value == "deferred"
    assert await later.abort()  # AsyncResult.revoke()

    run = await chord(group(sig("add", i, i) for i in range(10)), sig("tsum")).enqueue()
    assert await run.result(timeout=10) == 90  # chord(...)().get()
    # --8<-- [end:calls]
    await aqueue.close_default_client()
