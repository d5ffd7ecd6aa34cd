"""Looking at a running system: job status, progress, queue sizes, live workers, dead letters."""

import asyncio

import aqueue
from aqueue import JobContext, task
from aqueue.dead import list_dead
from aqueue.events import EventKind
from aqueue.monitor import job_view, live_workers, queue_stats
from aqueue.workflows import sig


@task
async def build_report(ctx: JobContext, account: str) -> str:
    for step in range(1, 4):
        await asyncio.sleep(0.01)
        await ctx["progress"](step / 3, f"step {step} of 3")
    return f"report for {account}"


@task
async def add(ctx: JobContext, x: int, y: int) -> int:
    return x + y


class WorkerSettings:
    functions = [build_report, add]


async def main() -> None:
    async with aqueue.Client() as client:
        job = await client.enqueue("build_report", "acme", _job_id="report-42")
        assert await job.result(timeout=10) == "report for acme"
        run = await (sig("add", 1, 2) | sig("add", 10)).enqueue(client, run_id="nightly-1")
        assert await run.result(timeout=10) == 13
        await client.enqueue("add", 5, 5, _job_id="later", _defer_by=3600)

        # --8<-- [start:python]
        stats = await queue_stats(client)  # the default queue; queue_stats(client, "reports")
        assert (stats.due, stats.later_or_running, stats.dead) == (0, 1, 0)
        workers = await live_workers(client)  # from their heartbeats
        assert len(workers) == 1
        view = await job_view(client, "report-42")
        assert view.status.value == "complete" and view.progress.message == "step 3 of 3"
        assert await list_dead(client) == []
        # --8<-- [end:python]

        # --8<-- [start:events]
        kinds = [e.kind async for e in client.events(follow=False) if e.job_id == "report-42"]
        assert sorted(kinds) == sorted(["enqueued", "started", *["progress"] * 3, "succeeded"])
        newest = [e async for e in client.events(follow=False, reverse=True, limit=5)]
        assert any(e.job_id == "later" and e.kind is EventKind.ENQUEUED for e in newest)
        # async for event in client.events():   # every queue, from now on, until cancelled
        #     print(event.kind, event.job_id, event.task, event.job_try, event.duration)
        # --8<-- [end:events]
