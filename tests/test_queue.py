"""Producer and worker behaviour on a real Redis, with in-process workers."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import redis as sync_redis

import aqueue
from aqueue import Client, JobStatus, Retry, task
from aqueue.errors import (
    DeserializationError,
    JobAborted,
    JobTimeout,
    MaxTriesExceeded,
    ResultNotFound,
    SerializationError,
    TaskError,
    UnknownTaskError,
)
from aqueue.extensions import Service, WorkerExtension
from tests.support import eventually


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


@task(name="math.echo")
async def echo(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    return [args, kwargs, ctx["job_try"]]


@task
async def fail(ctx: dict[str, Any], message: str) -> None:
    raise LookupError(message)


@task
async def sleeper(ctx: dict[str, Any], seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "slept"


class PaymentDeclinedError(Exception):
    pass


@task
async def decline(ctx: dict[str, Any]) -> None:
    raise PaymentDeclinedError("card 4242 declined")


async def test_enqueue_by_name_and_by_task(client: Client, run_worker: Any) -> None:
    async with run_worker([add, echo]):
        by_name = await client.enqueue("add", 1, 2)
        by_task = await client.enqueue(add, 3, 4)
        named = await client.enqueue("math.echo", (1, 2), key={"a": b"x"})
        assert by_name and by_task and named
        assert await by_name.result(timeout=5) == 3
        assert await by_task.result(timeout=5) == 7
        assert await named.result(timeout=5) == [((1, 2),), {"key": {"a": b"x"}}, 1]


async def test_default_client_uses_env(
    redis_url: str, run_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQUEUE_REDIS_URL", redis_url)
    try:
        async with run_worker([add]):
            job = await aqueue.enqueue("add", 20, 22)
            assert job is not None
            assert await job.result(timeout=5) == 42
            job2 = await add.enqueue(1, 1)
            assert job2 is not None and await job2.result(timeout=5) == 2
    finally:
        await aqueue.close_default_client()


async def test_duplicate_job_id_returns_none(client: Client) -> None:
    first = await client.enqueue("add", 1, 2, _job_id="once")
    assert first is not None
    assert await client.enqueue("add", 1, 2, _job_id="once") is None


async def test_duplicate_job_id_after_completion_returns_none(client: Client, run_worker: Any) -> None:
    async with run_worker([add]):
        job = await client.enqueue("add", 1, 2, _job_id="done-once")
        assert job is not None and await job.result(timeout=5) == 3
    assert await client.enqueue("add", 1, 2, _job_id="done-once") is None


async def test_unencodable_argument_fails_and_writes_nothing(
    client: Client, sync_r: sync_redis.Redis
) -> None:
    with pytest.raises(SerializationError, match="cannot enqueue 'add'.*object"):
        await client.enqueue("add", object(), 1)
    assert sync_r.dbsize() == 0
    with pytest.raises(TypeError):  # SerializationError is a TypeError too
        await client.enqueue_many("add", [(1, 2), (object(), 3)])
    assert sync_r.dbsize() == 0


async def test_failure_keeps_type_message_and_traceback(client: Client, run_worker: Any) -> None:
    async with run_worker([fail, decline]):
        job = await client.enqueue("fail", "no such thing")
        with pytest.raises(LookupError, match="no such thing") as info:
            await job.result(timeout=5)  # type: ignore[union-attr]
        assert "raise LookupError(message)" in "".join(info.value.__notes__)
        job = await client.enqueue("decline")
        with pytest.raises(PaymentDeclinedError, match="card 4242 declined"):
            await job.result(timeout=5)  # type: ignore[union-attr]


async def test_failure_of_unimportable_class_is_task_error(client: Client, run_worker: Any) -> None:
    async with run_worker([decline]):
        job = await client.enqueue("decline")
        assert job is not None
        info = await job.wait(timeout=5)
    raw = await client.redis.get(client.keys.result(job.job_id))
    assert raw is not None
    await client.redis.set(
        client.keys.result(job.job_id), raw.replace(PaymentDeclinedError.__module__.encode(), b"gone.module")
    )
    with pytest.raises(TaskError) as err:
        await job.result(timeout=1)
    assert not info.success
    assert err.value.type_name == "PaymentDeclinedError"
    assert err.value.message == "card 4242 declined"
    assert "raise PaymentDeclinedError" in err.value.traceback


async def test_unknown_task_fails_naming_the_task(client: Client, run_worker: Any) -> None:
    async with run_worker([add]) as worker:
        job = await client.enqueue("does.not.exist", 1)
        with pytest.raises(UnknownTaskError, match="does.not.exist"):
            await job.result(timeout=5)  # type: ignore[union-attr]
        ok = await client.enqueue("add", 1, 1)
        assert await ok.result(timeout=5) == 2  # type: ignore[union-attr]
        assert worker.jobs_failed == 1


async def test_corrupt_payload_fails_one_job_and_worker_goes_on(client: Client, run_worker: Any) -> None:
    await client.redis.set(client.keys.job("bad"), b"\x80\x03not json at all")
    await client.redis.zadd(client.default_queue, {"bad": time.time() * 1000})
    async with run_worker([add]):
        with pytest.raises(SerializationError, match="cannot be decoded"):
            await client.job("bad").result(timeout=5)
        ok = await client.enqueue("add", 2, 2)
        assert await ok.result(timeout=5) == 4  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("envelope", "problem"),
    [
        ({"t": None, "f": 7, "a": [], "k": {}, "et": 1}, "task name must be a non-empty string"),
        ({"t": None, "f": "add", "a": [1, 1], "k": {}, "et": 1, "o": [1]}, "options must be a mapping"),
        ({"t": None, "f": "add", "a": "11", "k": {}, "et": 1}, "args must be a list"),
        ({"t": None, "f": "add", "a": [], "k": "x", "et": 1}, "kwargs must be a mapping"),
        ([1, 2, 3], "must be a mapping"),
    ],
)
async def test_malformed_envelope_fails_at_once_as_corrupt(
    client: Client, run_worker: Any, envelope: Any, problem: str
) -> None:
    """A well-encoded but malformed envelope fails on its first delivery (it used to raise inside the
    worker on every delivery until it was dead-lettered)."""
    await client.redis.set(client.keys.job("odd"), orjson.dumps(envelope))
    await client.redis.zadd(client.default_queue, {"odd": time.time() * 1000})
    async with run_worker([add]) as worker:
        with pytest.raises(DeserializationError, match=problem):
            await client.job("odd").result(timeout=5)
        stored = await client.job("odd").result_info()
        assert stored is not None and stored.job_try == 1  # failed on its first delivery
        await eventually(lambda: worker.jobs_failed == 1, "the worker to count the failure")
        assert not await client.redis.zcard(client.keys.dead)


async def test_status_moves_deferred_queued_in_progress_complete(client: Client, run_worker: Any) -> None:
    job = await client.enqueue("sleeper", 0.6, _defer_by=0.3)
    assert job is not None
    assert await job.status() == JobStatus.deferred
    await asyncio.sleep(0.35)
    assert await job.status() == JobStatus.queued
    async with run_worker([sleeper]):
        for _ in range(100):
            if await job.status() == JobStatus.in_progress:
                break
            await asyncio.sleep(0.01)
        assert await job.status() == JobStatus.in_progress
        assert await job.result(timeout=5) == "slept"
        assert await job.status() == JobStatus.complete
    assert await client.job("nope").status() == JobStatus.not_found


async def test_defer_until_runs_no_earlier(client: Client, run_worker: Any) -> None:
    @task
    async def stamp(ctx: dict[str, Any]) -> float:
        return time.time()

    when = datetime.now(UTC) + timedelta(seconds=0.5)
    async with run_worker([stamp]):
        job = await client.enqueue("stamp", _defer_until=when)
        ran_at = await job.result(timeout=5)  # type: ignore[union-attr]
    assert ran_at >= when.timestamp() - 0.005
    assert ran_at < when.timestamp() + 0.5


async def test_result_timeout_raises_job_timeout(client: Client, run_worker: Any) -> None:
    async with run_worker([sleeper]):
        job = await client.enqueue("sleeper", 2)
        t0 = time.monotonic()
        with pytest.raises(JobTimeout):
            await job.result(timeout=0.3)  # type: ignore[union-attr]
        assert time.monotonic() - t0 < 1.0
        with pytest.raises(TimeoutError):  # JobTimeout is a TimeoutError
            await job.result(timeout=0.05)  # type: ignore[union-attr]


async def test_result_not_found_for_unknown_job(client: Client) -> None:
    with pytest.raises(ResultNotFound):
        await client.job("never-enqueued").result(timeout=1)


async def test_result_wakes_on_notification_not_polling(
    client: Client, run_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aqueue.jobs.RECHECK_START_S", 30.0)  # no safety re-read within the test
    async with run_worker([sleeper]):
        job = await client.enqueue("sleeper", 0.2)
        t0 = time.monotonic()
        assert await job.result(timeout=10) == "slept"  # type: ignore[union-attr]
        assert time.monotonic() - t0 < 2.0


async def test_many_waits_at_once_share_one_notification_connection(client: Client) -> None:
    """300 result waits started together used to open a pub/sub connection each and keep 299."""

    async def connected() -> int:
        return int((await client.redis.info("clients"))["connected_clients"])

    before = await connected()
    jobs = await client.enqueue_many("sleeper", [(0,) for _ in range(300)], _defer_by=60)
    waits = [asyncio.create_task(j.result(timeout=0.5)) for j in jobs if j]
    await asyncio.sleep(0.2)  # every wait has subscribed
    during = await connected()
    await asyncio.gather(*waits, return_exceptions=True)
    assert during - before < 50  # one pub/sub connection, plus a few pooled ones for the re-reads


async def test_missed_notification_does_not_hang(
    client: Client, run_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aqueue.jobs.RECHECK_START_S", 0.1)

    async def deaf_subscribe(self: Any, channel: str) -> None:  # subscription silently lost
        return None

    monkeypatch.setattr("aqueue._redis.notify.Notifier._subscribe", deaf_subscribe)
    async with run_worker([sleeper]):
        job = await client.enqueue("sleeper", 0.2)
        assert await job.result(timeout=5) == "slept"  # type: ignore[union-attr]


async def test_abort_queued_job_without_worker(client: Client) -> None:
    job = await client.enqueue("sleeper", 1, _defer_by=60)
    assert job is not None
    assert await job.abort(timeout=1) is True
    with pytest.raises(JobAborted):
        await job.result(timeout=1)
    assert await job.status() == JobStatus.complete


async def test_abort_running_job(client: Client, run_worker: Any) -> None:
    async with run_worker([sleeper], lease_s=0.6):
        job = await client.enqueue("sleeper", 30)
        assert job is not None
        while await job.status() != JobStatus.in_progress:
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        assert await job.abort(timeout=5) is True
        assert time.monotonic() - t0 < 3
        with pytest.raises(JobAborted, match="while running"):
            await job.result(timeout=1)


async def test_retry_with_defer_then_success(client: Client, run_worker: Any) -> None:
    @task(max_tries=3)
    async def flaky(ctx: dict[str, Any]) -> int:
        if ctx["job_try"] < 3:
            raise Retry(defer=0.05)
        return ctx["job_try"]

    async with run_worker([flaky], poll_delay=2) as worker:
        t0 = time.monotonic()
        job = await client.enqueue("flaky")
        assert await job.result(timeout=5) == 3  # type: ignore[union-attr]
        assert worker.jobs_retried == 2
        # each retry starts when due (50 ms), not when the idle wait's poll_delay (2 s) runs out
        assert time.monotonic() - t0 < 1.5


async def test_retry_on_with_backoff_then_give_up(client: Client, run_worker: Any) -> None:
    tries: list[float] = []

    @task(max_tries=3, retry_on=ConnectionError, retry_backoff=aqueue.Backoff(base_s=0.1, jitter=False))
    async def unreachable(ctx: dict[str, Any]) -> None:
        tries.append(time.monotonic())
        raise ConnectionError("upstream down")

    async with run_worker([unreachable]):
        job = await client.enqueue("unreachable")
        with pytest.raises(MaxTriesExceeded, match=r"gave up after 3 of 3 tries.*upstream down"):
            await job.result(timeout=10)  # type: ignore[union-attr]
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    assert len(tries) == 3
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19  # 0.1 s then 0.2 s


def test_backoff_is_capped_and_jittered() -> None:
    b = aqueue.Backoff(base_s=1, factor=2, max_s=10)
    assert all(5 <= b.delay_s(20) <= 10 for _ in range(50))
    assert all(0.5 <= b.delay_s(1) <= 1 for _ in range(50))
    assert len({b.delay_s(3) for _ in range(20)}) > 1


async def test_exception_not_in_retry_on_fails_at_once(client: Client, run_worker: Any) -> None:
    @task(max_tries=5, retry_on=ConnectionError)
    async def wrong(ctx: dict[str, Any]) -> None:
        raise ValueError(f"try {ctx['job_try']}")

    async with run_worker([wrong]):
        job = await client.enqueue("wrong")
        with pytest.raises(ValueError, match="try 1"):
            await job.result(timeout=5)  # type: ignore[union-attr]


async def test_job_over_max_tries_fails_saying_so(client: Client, run_worker: Any) -> None:
    job = await client.enqueue("add", 1, 2)
    assert job is not None
    await client.redis.set(client.keys.retry(job.job_id), 5)  # already delivered max_tries times
    async with run_worker([add], max_tries=5):
        with pytest.raises(MaxTriesExceeded, match="used up its 5 tries"):
            await job.result(timeout=5)


async def test_task_timeout(client: Client, run_worker: Any) -> None:
    @task(timeout=0.2)
    async def slow(ctx: dict[str, Any]) -> None:
        await asyncio.sleep(10)

    async with run_worker([slow]):
        job = await client.enqueue("slow")
        with pytest.raises(TimeoutError, match="timed out after 0.2s"):
            await job.result(timeout=5)  # type: ignore[union-attr]


async def test_a_timeout_error_the_task_raises_itself_is_not_reported_as_the_deadline(
    client: Client, run_worker: Any
) -> None:
    @task(timeout=5)
    async def own_timeout(ctx: dict[str, Any]) -> None:
        raise TimeoutError("upstream API did not answer")

    async with run_worker([own_timeout]):
        job = await client.enqueue("own_timeout")
        with pytest.raises(TimeoutError, match="upstream API did not answer"):
            await job.result(timeout=5)  # type: ignore[union-attr]


async def test_a_task_that_outlives_its_deadline_cleanup_still_times_out(
    client: Client, run_worker: Any
) -> None:
    """The deadline's cancellation reaches the task even while it awaits in a finally block."""

    @task(timeout=0.2)
    async def stubborn(ctx: dict[str, Any]) -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0.05)  # cleanup that awaits

    async with run_worker([stubborn]):
        job = await client.enqueue("stubborn")
        with pytest.raises(TimeoutError, match="timed out after 0.2s"):
            await job.result(timeout=5)  # type: ignore[union-attr]


async def test_sync_task_runs_in_thread_without_blocking_loop(client: Client, run_worker: Any) -> None:
    def blocking(ctx: dict[str, Any], seconds: float) -> str:
        time.sleep(seconds)
        return threading.current_thread().name

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async with run_worker([blocking]):
        t = asyncio.create_task(ticker())
        job = await client.enqueue("blocking", 0.5)
        thread_name = await job.result(timeout=5)  # type: ignore[union-attr]
        t.cancel()
    assert thread_name != threading.current_thread().name
    assert ticks > 20  # the loop kept running while the task slept in its thread


async def test_keep_result_zero_stores_nothing(client: Client, run_worker: Any) -> None:
    @task(keep_result=0)
    async def forgetful(ctx: dict[str, Any]) -> int:
        return 1

    async with run_worker([forgetful]):
        job = await client.enqueue("forgetful")
        assert job is not None
        with pytest.raises(ResultNotFound):
            await job.result(timeout=5)


async def test_unencodable_result_is_a_clear_failure(client: Client, run_worker: Any) -> None:
    @task
    async def returns_object(ctx: dict[str, Any]) -> object:
        return object()

    async with run_worker([returns_object]) as worker:
        job = await client.enqueue("returns_object")
        with pytest.raises(
            SerializationError, match="returns_object returned a value that cannot be encoded"
        ):
            await job.result(timeout=5)  # type: ignore[union-attr]
        # recorded, and counted, as a failure (the count follows the reply to the finish)
        await eventually(lambda: (worker.jobs_complete, worker.jobs_failed) == (0, 1), "the failure count")


async def test_enqueue_many_and_named_queue(client: Client, run_worker: Any) -> None:
    async with run_worker([add], queue_name="fast", max_jobs=20):
        jobs = await client.enqueue_many("add", [(i, i) for i in range(300)], _queue_name="fast")
        assert all(jobs)
        results = await asyncio.gather(*(j.result(timeout=10) for j in jobs if j))
    assert results == [2 * i for i in range(300)]
    assert await client.redis.exists("fast") == 0  # the queue key is its name (arq's layout), now empty


async def test_worker_respects_max_jobs(client: Client, run_worker: Any) -> None:
    running = peak = 0

    @task
    async def counted(ctx: dict[str, Any]) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1

    async with run_worker([counted], max_jobs=4):
        jobs = await client.enqueue_many("counted", [() for _ in range(20)])
        await asyncio.gather(*(j.result(timeout=10) for j in jobs if j))
    assert peak == 4


async def test_ctx_has_arq_fields_and_startup_state(client: Client, run_worker: Any) -> None:
    async def startup(ctx: dict[str, Any]) -> None:
        ctx["db"] = "connected"

    @task
    async def look(ctx: dict[str, Any]) -> list[Any]:
        return [
            ctx["db"],
            ctx["job_id"],
            ctx["job_try"],
            type(ctx["redis"]).__name__,
            isinstance(ctx["enqueue_time"], datetime),
        ]

    async with run_worker([look], on_startup=startup):
        job = await client.enqueue("look", _job_id="j1")
        assert await job.result(timeout=5) == ["connected", "j1", 1, "ArqRedis", True]  # type: ignore[union-attr]


async def test_burst_worker_exits_when_queue_empty(client: Client, redis_url: str) -> None:
    await client.enqueue_many("add", [(i, 1) for i in range(10)])
    worker = aqueue.Worker([add], redis_settings=redis_url, burst=True, handle_signals=False)
    await asyncio.wait_for(worker.async_run(), 10)
    await worker.close()
    assert worker.jobs_complete == 10
    assert await client.redis.zcard(client.default_queue) == 0


async def test_worker_stops_even_if_a_service_swallows_its_first_cancellation(redis_url: str) -> None:
    """A lost cancellation (a careless service; seen inside redis-py on Python 3.11) must not leave the
    worker stopping forever: it asks again."""
    cancellations = 0

    async def stubborn() -> None:
        nonlocal cancellations
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancellations += 1
                if cancellations > 1:
                    raise

    class Stubborn(WorkerExtension):
        def services(self) -> list[Service]:
            return [stubborn]

    worker = aqueue.Worker(
        [add], redis_settings=redis_url, burst=True, handle_signals=False, extensions=[Stubborn()]
    )
    await asyncio.wait_for(worker.async_run(), 10)
    await worker.close()
    assert cancellations == 2


async def test_idle_worker_wakes_on_enqueue_not_poll(client: Client, run_worker: Any) -> None:
    @task
    async def stamp(ctx: dict[str, Any]) -> float:
        return time.time()

    async with run_worker([stamp], poll_delay=30):  # the slow poll would take 30 s
        await asyncio.sleep(0.2)  # let it go idle
        lags = []
        for _ in range(5):
            sent = time.time()
            job = await client.enqueue("stamp")
            lags.append(await job.result(timeout=5) - sent)  # type: ignore[union-attr]
            await asyncio.sleep(0.05)
    assert max(lags) < 1.0


async def test_slow_poll_picks_up_plain_arq_enqueues(redis_url: str, run_worker: Any) -> None:
    from arq.connections import RedisSettings, create_pool

    pool = await create_pool(
        RedisSettings.from_dsn(redis_url),
        job_serializer=aqueue.job_serializer,
        job_deserializer=aqueue.job_deserializer,
    )
    try:
        async with run_worker([add], poll_delay=0.2):
            await asyncio.sleep(0.1)
            arq_job = await pool.enqueue_job("add", 5, 6)
            assert arq_job is not None
            assert await arq_job.result(timeout=5, poll_delay=0.05) == 11
    finally:
        await pool.aclose()


async def test_worker_publishes_heartbeat_and_arq_health_key(client: Client, run_worker: Any) -> None:
    async with run_worker([add], health_check_interval=60) as worker:
        job = await client.enqueue("add", 1, 1)
        assert await job.result(timeout=5) == 2  # type: ignore[union-attr]
        await worker._heartbeat().beat(worker._counters(), with_health_key=True)
        beat = await client.redis.hgetall(client.keys.worker(worker.worker_id))
        health = await client.redis.get(worker.health_check_key)
    assert beat[b"queue"] == b"arq:queue" and int(beat[b"pid"]) > 0
    assert b"j_complete=1" in beat[b"info"]
    assert health is not None and b"j_complete=1" in health and b"queued=0" in health
    assert await client.redis.exists(client.keys.worker(worker.worker_id)) == 0  # removed at close


async def test_scripts_are_reloaded_after_script_flush(client: Client, run_worker: Any) -> None:
    async with run_worker([add]):
        first = await client.enqueue("add", 1, 1)
        assert await first.result(timeout=5) == 2  # type: ignore[union-attr]
        await client.redis.script_flush()  # as after a Redis restart: every cached script is gone
        again = await client.enqueue("add", 2, 2)
        assert await again.result(timeout=5) == 4  # type: ignore[union-attr]
