"""Watching jobs: progress reports, queue stats, live workers, and the status/job CLI."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from aqueue import Client, JobStatus, task
from aqueue.monitor import live_workers, queue_stats
from tests.conftest import aqueue_cli, run_cli
from tests.support import eventually

GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = weakref.WeakKeyDictionary()


def gate() -> asyncio.Event:
    """This test's gate (an Event belongs to one event loop, and each test has its own)."""
    return GATES.setdefault(asyncio.get_running_loop(), asyncio.Event())


@task
async def crunch(ctx: dict[str, Any], steps: int) -> str:
    for i in range(1, steps + 1):
        await ctx["progress"](i / steps, f"step {i} of {steps}")
        if i == 1:
            await gate().wait()
    return "crunched"


async def test_task_reports_progress_and_producer_reads_it(client: Client, run_worker: Any) -> None:
    gate().clear()
    async with run_worker([crunch]):
        job = await client.enqueue("crunch", 4)
        assert job is not None
        first = await eventually(job.progress, "the first progress report")
        assert (first.value, first.message) == (0.25, "step 1 of 4")
        assert await job.status() == JobStatus.in_progress
        gate().set()
        assert await job.result(timeout=5) == "crunched"
    last = await job.progress()
    assert last is not None and (last.value, last.message) == (1.0, "step 4 of 4")
    assert await client.job("never").progress() is None


async def test_queue_stats_and_live_workers(client: Client, run_worker: Any) -> None:
    await client.enqueue("crunch", 1, _defer_by=60)
    await client.enqueue_many("crunch", [(1,), (1,)])
    stats = await queue_stats(client)
    assert (stats.due, stats.later_or_running, stats.dead) == (2, 1, 0)
    async with run_worker([crunch], burst=False) as worker:
        await eventually(lambda: worker._ops is not None, "the worker to connect")
        await worker._heartbeat().beat(worker._counters(), with_health_key=False)
        workers = await live_workers(client)
    assert [w.worker_id for w in workers] == [worker.worker_id]
    assert workers[0].queue == "arq:queue" and workers[0].seconds_since_beat < 5


def test_status_and_job_cli(redis_url: str, sync_r: Any) -> None:
    worker = aqueue_cli("worker", "tests.cli_settings.WorkerSettings", redis_url=redis_url)
    try:
        done = run_cli("enqueue", "add", "2", "3", "--wait", "10", redis_url=redis_url)
        job_id = done.stdout.split()[0]
        shown = run_cli("job", job_id, redis_url=redis_url)
        assert shown.returncode == 0, shown.stderr
        assert f"job {job_id}: complete" in shown.stdout and "result (ok, try 1): 5" in shown.stdout
        status = ""
        for _ in range(50):  # the worker's first heartbeat is written when it starts
            status = run_cli("status", redis_url=redis_url).stdout
            if "1 live workers" in status:
                break
        assert "queue arq:queue: 0 due" in status and "1 live workers" in status
        missing = run_cli("job", "no-such-job", redis_url=redis_url)
        assert missing.returncode == 1 and missing.stdout == ""
        assert missing.stderr.strip() == "error: no job 'no-such-job' (never enqueued, or its result expired)"
    finally:
        worker.terminate()
        worker.communicate(timeout=20)
