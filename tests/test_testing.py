"""aqueue.testing: run_worker() and drain(), run_cron() on a manual clock, eager mode, the pytest plugin.

These tests use the plugin's own fixtures (``aqueue_redis_url``, ``aqueue_worker``, ``aqueue_eager``),
as a user's tests would: the plugin is loaded through its entry point, like in any project that
installs aqueue.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import aqueue
from aqueue import Client, JobStatus, MaxTriesExceeded, SerializationError, UnknownTaskError, Worker
from aqueue.embedded import free_port
from aqueue.errors import ConfigurationError, JobTimeout
from aqueue.testing import CronRun, DrainReport, eager, run_worker
from aqueue.workflows import CanvasElement, chain, chord, group, sig, start_workflow
from tests import testing_tasks
from tests.testing_tasks import (
    CALLS,
    CronSettings,
    GatewayDown,
    PaymentDeclined,
    Settings,
    add,
    decline,
    email,
    fan_out,
    flaky,
    slow,
)


@pytest.fixture
def aqueue_settings() -> type:
    """The plugin's hook: the settings its aqueue_eager and aqueue_worker fixtures use by default."""
    return Settings


@pytest.fixture(autouse=True)
def fresh_calls() -> Iterator[None]:
    CALLS.clear()
    yield
    CALLS.clear()


# -- run_worker and drain ---------------------------------------------------------------------------


async def test_run_worker_runs_settings_and_drain_reports_what_ended(aqueue_worker, aqueue_client) -> None:
    async with aqueue_worker(Settings) as worker:
        jobs = [await worker.client.enqueue("add", i, i) for i in range(5)]
        report = await worker.drain()
        assert report == DrainReport(complete=5)
        assert [await job.status() for job in jobs if job] == [JobStatus.complete] * 5
        assert [await job.result() for job in jobs if job] == [0, 2, 4, 6, 8]
        assert worker.worker.running_jobs == 0
        heartbeat = worker.worker.keys.worker(worker.worker.worker_id)
        assert await aqueue_client.redis.exists(heartbeat)
    assert worker.worker.jobs_complete == 5
    assert not await aqueue_client.redis.exists(heartbeat)  # stopped and gone


async def test_the_worker_stops_on_leaving_the_block_and_hands_back_a_running_job(
    aqueue_worker, aqueue_client
) -> None:
    started = time.monotonic()
    async with aqueue_worker(Settings) as worker:
        job = await worker.client.enqueue("nap", 30)
        deadline = time.monotonic() + 5
        while worker.worker.running_jobs == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert worker.worker.running_jobs == 1
    assert time.monotonic() - started < 5
    assert job is not None
    assert await aqueue_client.job(job.job_id).status() == JobStatus.queued  # handed back, due now


async def test_drain_reraises_the_first_failure_with_its_own_type(aqueue_worker) -> None:
    async with aqueue_worker(Settings) as worker:
        first = await worker.client.enqueue("decline", 1)
        await worker.drain(raise_failures=False)
        await worker.client.enqueue("decline", 2)
        await worker.client.enqueue("decline", 3)
        with pytest.raises(PaymentDeclined) as caught:
            await worker.drain()
        assert str(caught.value) in {"order 2 declined", "order 3 declined"}
        note = "".join(caught.value.__notes__)
        assert "(decline, try 1) failed; 1 more failed: decline (PaymentDeclined)" in note
        assert first is not None
        with pytest.raises(PaymentDeclined, match="order 1 declined"):  # job.result() agrees on the type
            await first.result()
        assert (await worker.drain()).empty  # failures are reported once


async def test_drain_without_raising_returns_the_failures(aqueue_worker) -> None:
    async with aqueue_worker(Settings) as worker:
        job = await worker.client.enqueue("decline", 7)
        report = await worker.drain(raise_failures=False)
    assert report.complete == 0 and report.failed == 1
    (failure,) = report.failures
    assert job is not None and failure.job_id == job.job_id
    assert (failure.task, failure.job_try) == ("decline", 1)
    assert isinstance(failure.error, PaymentDeclined) and failure.error.__traceback__ is not None


async def test_drain_runs_deferred_retries_now(aqueue_worker) -> None:
    async with aqueue_worker(Settings) as worker:
        job = await worker.client.enqueue("flaky", 2)
        started = time.monotonic()
        report = await worker.drain()
        assert time.monotonic() - started < 10  # each retry asked for 60 s
        assert report == DrainReport(complete=1, retried=2)
        assert job is not None and await job.result() == 3
        assert CALLS == [("flaky", 1), ("flaky", 2), ("flaky", 3)]


async def test_drain_can_leave_deferred_jobs_for_later(aqueue_worker) -> None:
    async with aqueue_worker(Settings) as worker:
        later = await worker.client.enqueue("add", 1, 1, _defer_by=60)
        retried = await worker.client.enqueue("flaky", 1)
        report = await worker.drain(run_deferred=False)
        assert report == DrainReport(retried=1)
        assert later is not None and await later.status() == JobStatus.deferred
        assert retried is not None and await retried.status() == JobStatus.deferred
        assert (await worker.drain()).complete == 2  # now everything runs


async def test_retry_on_gives_up_after_max_tries(aqueue_worker) -> None:
    async with aqueue_worker(Settings) as worker:
        await worker.client.enqueue("charge_retrying", 5)
        with pytest.raises(MaxTriesExceeded, match="gave up after 2 of 2 tries") as caught:
            await worker.drain()
    assert isinstance(caught.value.__cause__, GatewayDown)
    assert CALLS == [("charge_retrying", 1), ("charge_retrying", 2)]


async def test_a_queue_that_stays_busy_times_the_drain_out(aqueue_worker) -> None:
    async with aqueue_worker(Settings) as worker:
        await worker.client.enqueue("nap", 30)
        with pytest.raises(JobTimeout, match=r"drain: 1 jobs still due or running on arq:queue after 0.3s"):
            await worker.drain(timeout=0.3)


async def test_task_timeouts_apply(aqueue_worker) -> None:
    async with aqueue_worker(Settings) as worker:
        job = await worker.client.enqueue("slow", 5)
        with pytest.raises(TimeoutError, match="slow timed out after 0.2s"):
            await worker.drain()
        assert job is not None
        with pytest.raises(TimeoutError):
            await job.result()


async def test_run_worker_takes_a_list_of_tasks_an_import_path_and_options(redis_url: str) -> None:
    async with run_worker([add], redis=redis_url, queue_name="fast") as worker:
        assert worker.queue_name == "fast"  # under arq's prefix a queue's name is its key, as in arq
        job = await worker.client.enqueue("add", 2, 3)
        await worker.drain()
        assert job is not None and await job.result() == 5
    async with run_worker("tests.testing_tasks.Settings", redis=redis_url, max_jobs=1) as worker:
        assert worker.worker.max_jobs == 1
        assert set(worker.worker.functions) >= {"add", "decline", "flaky"}


async def test_a_test_worker_opens_no_metrics_port_unless_asked(redis_url: str) -> None:
    port = free_port()
    async with run_worker({"functions": [add], "metrics_port": port}, redis=redis_url) as worker:
        assert worker.worker.functions
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass


async def test_run_worker_refuses_a_bad_target(redis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="needs a settings class"):
        async with run_worker(42, redis=redis_url):  # type: ignore[arg-type]
            pass


async def test_a_worker_that_cannot_start_fails_the_block(redis_url: str) -> None:
    async def broken_startup(ctx: dict[str, object]) -> None:
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError, match="no database"):
        async with run_worker([add], redis=redis_url, on_startup=broken_startup):
            pytest.fail("the block must not run")


# -- cron on a manual clock -------------------------------------------------------------------------

MONDAY = datetime(2030, 1, 7, tzinfo=UTC)  # 09:00 in Paris is 08:00 UTC in January


async def test_run_cron_runs_the_slots_due_at_the_given_time(aqueue_worker) -> None:
    async with aqueue_worker(CronSettings, cron_start=MONDAY + timedelta(hours=7)) as worker:
        assert await worker.run_cron(MONDAY + timedelta(hours=7, minutes=59)) == []
        assert CALLS == []
        runs = await worker.run_cron(MONDAY + timedelta(hours=8))
        slot = MONDAY + timedelta(hours=8)
        assert runs == [CronRun("morning", slot, runs[0].job_id, "run")]
        assert [("morning_report", slot)] == CALLS
        assert await worker.job(runs[0].job_id).result() == slot.isoformat()
        assert await worker.run_cron(MONDAY + timedelta(hours=9)) == []  # once per slot
        next_day = await worker.run_cron(MONDAY + timedelta(days=1, hours=8))
        assert [(r.slot, r.status) for r in next_day] == [(slot + timedelta(days=1), "run")]


async def test_run_cron_follows_the_missed_policy_and_never_runs_by_itself(aqueue_worker) -> None:
    async with aqueue_worker(CronSettings, cron_start=MONDAY) as worker:
        await asyncio.sleep(0.3)  # the real clock moves on; the scheduler's does not
        assert CALLS == []
        # three slots went by; missed="skip" (the default) drops them, as a worker coming back would
        assert await worker.run_cron(MONDAY + timedelta(days=3, hours=12)) == []
        runs = await worker.run_cron(MONDAY + timedelta(days=4, hours=8))
        assert [(r.slot, r.status) for r in runs] == [(MONDAY + timedelta(days=4, hours=8), "run")]
        assert [("morning_report", MONDAY + timedelta(days=4, hours=8))] == CALLS


async def test_run_cron_without_cron_jobs_says_so(aqueue_worker) -> None:
    async with aqueue_worker(Settings) as worker:
        with pytest.raises(ConfigurationError, match="no cron_jobs"):
            await worker.run_cron(MONDAY)


# -- eager mode -------------------------------------------------------------------------------------


async def test_eager_enqueue_runs_the_job_before_returning(aqueue_redis_url: str) -> None:
    async with eager(Settings, redis=aqueue_redis_url):
        by_name = await aqueue.enqueue("add", 1, 2)
        by_task = await add.enqueue(3, 4)
        async with Client("redis://127.0.0.1:1/0") as client:  # any URL: inside the block it is eager
            on_client = await client.enqueue(add, 5, 6)
            for job, expected in ((by_name, 3), (by_task, 7), (on_client, 11)):
                assert job is not None
                assert await job.status() == JobStatus.complete
                assert await job.result() == expected
    assert CALLS == [("add", (1, 2)), ("add", (3, 4)), ("add", (5, 6))]


async def test_eager_unencodable_arguments_fail_at_enqueue(aqueue_eager, aqueue_redis_url: str) -> None:
    with pytest.raises(SerializationError):
        await add.enqueue(object(), 1)
    async with Client(aqueue_redis_url) as client:
        assert await client.redis.keys("arq:job:*") == []  # nothing was written
        assert await client.redis.zcard("arq:queue") == 0
    job = await aqueue.enqueue("unencodable_result")
    assert job is not None
    with pytest.raises(
        SerializationError, match="unencodable_result returned a value that cannot be encoded"
    ):
        await job.result()


async def test_eager_failures_retries_and_timeouts_behave_as_on_a_worker(aqueue_eager) -> None:
    declined = await decline.enqueue(9)
    retried = await aqueue.enqueue("charge_retrying", 1)
    timed_out = await slow.enqueue(5)
    flaked = await flaky.enqueue(2)
    assert declined is not None and retried is not None and timed_out is not None and flaked is not None
    with pytest.raises(PaymentDeclined, match="order 9 declined"):
        await declined.result()
    with pytest.raises(MaxTriesExceeded, match="gave up after 2 of 2 tries; last error GatewayDown"):
        await retried.result()
    with pytest.raises(TimeoutError, match="timed out after 0.2s"):
        await timed_out.result()
    assert await flaked.result() == 3  # two 60 s retries, run at once
    assert [(f.task, type(f.error)) for f in aqueue_eager.failures] == [
        ("decline", PaymentDeclined),
        ("charge_retrying", MaxTriesExceeded),
        ("slow", TimeoutError),
    ]


async def test_eager_can_raise_failures_from_enqueue(aqueue_redis_url: str) -> None:
    async with eager(Settings, redis=aqueue_redis_url, raise_failures=True):
        with pytest.raises(PaymentDeclined, match="order 4 declined") as caught:
            await decline.enqueue(4)
        assert "eager enqueue: job" in "".join(caught.value.__notes__)
        assert await (await add.enqueue(1, 1)).result() == 2  # type: ignore[union-attr]


async def test_eager_runs_workflows(aqueue_eager) -> None:
    run = await chain(sig("add", 1, 2), sig("add", 10)).enqueue()
    assert await run.result(timeout=5) == 13
    grouped = await group(sig("add", i, i) for i in range(5)).enqueue()
    assert await grouped.result(timeout=5) == [0, 2, 4, 6, 8]
    async with Client() as client:
        chorded = await client.run(chord([add.s(i, 1) for i in range(3)], sig("add", [10])))
        status = await chorded.status()
        assert status.state == "complete"  # done before enqueue returned
        assert await chorded.result(timeout=5) == [1, 2, 3, 10]  # add([1, 2, 3], [10])


async def test_eager_drain_finishes_what_enqueue_did_not_catch(aqueue_eager, aqueue_redis_url: str) -> None:
    async with Client(aqueue_redis_url) as client:
        await client.enqueue("add", 0, 0)  # starts the eager worker
        run = await start_workflow(client, chain(sig("add", 1, 2), sig("add", 3)))  # not caught
        report = await aqueue_eager.drain()
        assert (await run.status()).state == "complete"
    assert report.complete == 2


async def test_eager_serves_every_queue_enqueued_to(aqueue_redis_url: str) -> None:
    async with eager(Settings, redis=aqueue_redis_url, queues=["side"]):
        job = await email.enqueue("ada@example.com")  # the task's own queue
        assert job is not None and await job.status() == JobStatus.complete
        run = await chain(sig("add", 1, 1), sig("add", 2).set(queue="side")).enqueue()
        assert (await run.status()).state == "complete"  # the side-queue step ran before enqueue returned
        assert await run.result(timeout=5) == 4
    assert ("email", ("ada@example.com", "emails")) in CALLS


async def test_eager_enqueue_from_a_task_does_not_wait_for_itself(aqueue_eager) -> None:
    job = await fan_out.enqueue(3)
    assert job is not None and await job.status() == JobStatus.complete
    assert await job.result() == 0 + 2 + 4
    forgotten = await aqueue.enqueue("fire_and_forget")
    assert forgotten is not None and await forgotten.status() == JobStatus.complete
    assert CALLS[-1] == ("add", (40, 2))  # the job it enqueued ran before the outer enqueue returned


async def test_eager_registers_tasks_enqueued_as_objects(aqueue_redis_url: str) -> None:
    async with eager(redis=aqueue_redis_url) as session:
        assert await (await add.enqueue(1, 1)).result() == 2  # type: ignore[union-attr]
        assert await (await aqueue.enqueue(testing_tasks.flaky, 0)).result() == 1  # type: ignore[union-attr]
        unknown = await aqueue.enqueue("decline", 1)  # by name, and never given: as on a real worker
        assert unknown is not None
        with pytest.raises(UnknownTaskError, match="no task named 'decline'"):
            await unknown.result()
        assert [f.task for f in session.failures] == ["decline"]


async def test_eager_with_no_tasks_at_all_says_what_to_do(aqueue_redis_url: str) -> None:
    async with eager(redis=aqueue_redis_url):
        with pytest.raises(ConfigurationError, match="pass your WorkerSettings"):
            await aqueue.enqueue("add", 1, 2)


async def test_eager_run_deferred_false_keeps_deferred_jobs_deferred(aqueue_redis_url: str) -> None:
    async with eager(Settings, redis=aqueue_redis_url, run_deferred=False):
        job = await add.enqueue(2, 2, _defer_by=0.3)
        assert job is not None and await job.status() == JobStatus.deferred
        assert await job.result(timeout=5) == 4  # the eager worker runs it when due


async def test_eager_patches_only_inside_the_block_one_block_at_a_time(aqueue_redis_url: str) -> None:
    originals = (Client.connect, Client.enqueue, Client.enqueue_many, CanvasElement.enqueue)
    async with eager(Settings, redis=aqueue_redis_url):
        assert Client.enqueue is not originals[1]
        with pytest.raises(ConfigurationError, match="one eager"), eager(Settings, redis=aqueue_redis_url):
            pass
    assert (Client.connect, Client.enqueue, Client.enqueue_many, CanvasElement.enqueue) == originals


async def test_eager_refuses_a_client_connected_elsewhere_before_the_block(redis_url: str) -> None:
    async with Client(redis_url) as elsewhere:
        with eager(Settings), pytest.raises(ConfigurationError, match="not the eager Redis"):
            await elsewhere.enqueue("add", 1, 2)  # eager() has a Redis of its own
    assert await elsewhere_is_untouched(redis_url)


async def elsewhere_is_untouched(url: str) -> bool:
    async with Client(url) as client:
        return await client.redis.keys("*") == []


def test_eager_in_sync_code_around_asyncio_run() -> None:
    async def main() -> tuple[int, str]:
        job = await add.enqueue(20, 22)
        assert job is not None
        run = await (add.s(1, 1) | add.s(1)).enqueue()
        return await job.result(), str(await run.result(timeout=5))

    with eager() as session:
        assert asyncio.run(main()) == (42, "3")
        assert session._server is not None
        process = session._server.process
    assert process is not None and process.poll() is not None  # its embedded Redis stopped


async def test_a_sync_block_in_a_coroutine_works_too(aqueue_redis_url: str) -> None:
    with eager(Settings, redis=aqueue_redis_url):
        job = await add.enqueue(1, 2)
        assert job is not None and await job.status() == JobStatus.complete
    assert Client.enqueue.__module__ == "aqueue.client"


async def test_the_in_process_worker_is_the_real_worker(aqueue_worker) -> None:
    async with aqueue_worker(Settings) as worker:
        assert type(worker.worker) is Worker
