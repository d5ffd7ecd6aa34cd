"""arq users' code runs unchanged on aqueue.Worker: arq producers, arq's codecs, arq's worker options.

Each test is one break found by running arq 0.28's own test suite against aqueue.Worker (see
docs/arq.md). Producers are arq's (``create_pool`` / ``ArqRedis.enqueue_job``, ``arq.jobs.Job``);
the codec is arq's default, pickle, unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import pickle
import re
import tomllib
from collections.abc import AsyncIterator
from typing import Any

import msgpack
import pytest
import redis.asyncio
from arq import Worker as ArqWorker
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job as ArqJob
from arq.jobs import JobStatus
from arq.jobs import SerializationError as ArqSerializationError
from arq.worker import Retry as ArqRetry
from arq.worker import RetryJob

import aqueue
from aqueue import Client, JobAborted, MaxTriesExceeded, SerializationError, Worker, task
from tests.conftest import ROOT
from tests.support import eventually

PICKLE: dict[str, Any] = {"job_serializer": pickle.dumps, "job_deserializer": pickle.loads}
MSGPACK: dict[str, Any] = {
    "job_serializer": msgpack.packb,
    "job_deserializer": functools.partial(msgpack.unpackb, raw=False),
}


async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


async def job_try(ctx: dict[str, Any]) -> int:
    return int(ctx["job_try"])


@task(name="math.mul")
async def named_mul(ctx: dict[str, Any], x: int, y: int) -> int:
    return x * y


@contextlib.asynccontextmanager
async def arq_pool(redis_url: str, **options: Any) -> AsyncIterator[ArqRedis]:
    """An arq producer's pool (arq's ``create_pool``), pickle unless told otherwise."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url), **options)
    try:
        yield pool
    finally:
        await pool.aclose()


async def burst(redis_url: str, functions: Any, **options: Any) -> Worker:
    """Run an aqueue burst worker (arq's codec unless given) until its queue is empty; return it."""
    options = {**PICKLE, **options}
    if "redis_pool" not in options:
        options["redis_settings"] = redis_url
    worker = Worker(functions, burst=True, handle_signals=False, poll_delay=0.05, **options)
    try:
        await asyncio.wait_for(worker.async_run(), 15)
    finally:
        await worker.close()
    return worker


async def until_running(job: ArqJob) -> None:
    for _ in range(500):
        if await job.status() == JobStatus.in_progress:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{job} never started")


# -- named queues ---------------------------------------------------------------------------------


async def test_arq_producer_named_queue_reaches_aqueue_worker(redis_url: str) -> None:
    async with arq_pool(redis_url) as pool:
        job = await pool.enqueue_job("add", 1, 2, _queue_name="spanner")
        assert job is not None
        assert await pool.zcard("spanner") == 1  # arq's layout: the queue name is the key
        worker = await burst(redis_url, [add], queue_name="spanner")
        assert worker.jobs_complete == 1
        assert await job.result(timeout=5, poll_delay=0.05) == 3


async def test_aqueue_producer_named_queue_reaches_arq_worker(redis_url: str, client: Client) -> None:
    job = await client.enqueue("add", 20, 22, _queue_name="fast")
    assert job is not None
    assert await client.redis.zcard("fast") == 1
    theirs = ArqWorker(
        functions=[add],
        queue_name="fast",
        redis_settings=RedisSettings.from_dsn(redis_url),
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
        job_serializer=aqueue.job_serializer,
        job_deserializer=aqueue.job_deserializer,
    )
    try:
        await asyncio.wait_for(theirs.async_run(), 15)
    finally:
        await theirs.close()
    assert theirs.jobs_complete == 1
    assert await job.result(timeout=5) == 42


async def test_aqueue_producer_and_worker_agree_on_named_queues(client: Client, run_worker: Any) -> None:
    async with run_worker([add], queue_name="fast"):
        job = await client.enqueue("add", 2, 3, _queue_name="fast")
        assert job is not None
        assert await job.result(timeout=5) == 5


async def test_worker_without_queue_name_serves_the_pools_default_queue(redis_url: str) -> None:
    async def parent(ctx: dict[str, Any]) -> str:
        child = await ctx["redis"].enqueue_job("add", 1, 1)  # the pool's default queue: the worker's
        return str(child.job_id)

    async with arq_pool(redis_url, default_queue_name="test_queue") as pool:
        job = await pool.enqueue_job("parent")
        assert job is not None
        worker = await burst(redis_url, [parent, add], redis_pool=pool, queue_name=None)
        assert worker.queue_name == "test_queue"
        assert worker.jobs_complete == 2
        child = ArqJob(await job.result(timeout=5, poll_delay=0.05), pool, _queue_name="test_queue")
        assert await child.result(timeout=5, poll_delay=0.05) == 2


async def test_custom_prefix_keeps_named_queues_under_it(redis_url: str, run_worker: Any) -> None:
    async with (
        Client(redis_url, key_prefix="app:") as client,
        run_worker([add], key_prefix="app:", queue_name="fast"),
    ):
        job = await client.enqueue("add", 4, 5, _queue_name="fast", _defer_by=0.3)
        assert job is not None
        assert await client.redis.zcard("app:queue:fast") == 1
        assert not await client.redis.exists("fast")
        assert await job.result(timeout=5) == 9


# -- retries --------------------------------------------------------------------------------------


async def test_retry_job_runs_the_job_again(redis_url: str) -> None:
    async def flaky(ctx: dict[str, Any]) -> int:
        if ctx["job_try"] == 1:
            raise RetryJob()
        return int(ctx["job_try"])

    async with arq_pool(redis_url) as pool:
        job = await pool.enqueue_job("flaky")
        assert job is not None
        worker = await burst(redis_url, [flaky])
        assert (worker.jobs_complete, worker.jobs_retried, worker.jobs_failed) == (1, 1, 0)
        assert await job.result(timeout=5, poll_delay=0.05) == 2


async def test_retry_jobs_false_fails_on_retry(redis_url: str) -> None:
    async def asks(ctx: dict[str, Any]) -> None:
        raise ArqRetry(defer=0.01)

    async with arq_pool(redis_url) as pool:
        job = await pool.enqueue_job("asks")
        assert job is not None
        worker = await burst(redis_url, [asks], retry_jobs=False)
        assert (worker.jobs_complete, worker.jobs_retried, worker.jobs_failed) == (0, 0, 1)
        with pytest.raises(ArqRetry):
            await job.result(timeout=5, poll_delay=0.05)


async def test_producer_job_try_is_the_first_try(redis_url: str) -> None:
    async def retry_at_three(ctx: dict[str, Any]) -> int:
        if ctx["job_try"] == 3:
            raise ArqRetry()
        return int(ctx["job_try"])

    async with arq_pool(redis_url) as pool:
        plain = await pool.enqueue_job("job_try", _job_try=3)
        retried = await pool.enqueue_job("retry_at_three", _job_try=3)
        assert plain is not None and retried is not None
        worker = await burst(redis_url, [job_try, retry_at_three])
        assert await plain.result(timeout=5, poll_delay=0.05) == 3
        assert await retried.result(timeout=5, poll_delay=0.05) == 4
        assert worker.jobs_retried == 1
        leftover = [k async for k in pool.scan_iter("arq:retry:*")] + [
            k async for k in pool.scan_iter("arq:in-progress:*")
        ]
        assert leftover == [] and not await pool.exists("arq:deliveries")


async def test_explicit_retry_uses_every_try_then_fails_as_arq_counts(redis_url: str) -> None:
    calls: list[int] = []

    async def always(ctx: dict[str, Any]) -> None:
        calls.append(ctx["job_try"])
        raise ArqRetry()

    async with arq_pool(redis_url) as pool:
        job = await pool.enqueue_job("always", _job_id="lots")
        assert job is not None
        worker = await burst(redis_url, [always], max_tries=3)
        assert calls == [1, 2, 3]
        assert (worker.jobs_complete, worker.jobs_retried, worker.jobs_failed) == (0, 3, 1)
        with pytest.raises(MaxTriesExceeded, match="max 3 retries exceeded"):
            await job.result(timeout=5, poll_delay=0.05)
        info = await job.result_info()
        assert info is not None and info.job_try == 4  # arq records the delivery that gave up


async def test_task_raising_cancelled_error_runs_again(redis_url: str) -> None:
    async def cancels_once(ctx: dict[str, Any]) -> int:
        if ctx["job_try"] == 1:
            raise asyncio.CancelledError
        return int(ctx["job_try"])

    async with arq_pool(redis_url) as pool:
        job = await pool.enqueue_job("cancels_once")
        assert job is not None
        worker = await burst(redis_url, [cancels_once])
        assert (worker.jobs_complete, worker.jobs_retried) == (1, 1)
        assert await job.result(timeout=5, poll_delay=0.05) == 2


# -- abort ----------------------------------------------------------------------------------------


async def test_arq_abort_of_a_running_job_returns_true(redis_url: str, run_worker: Any) -> None:
    async def sleeps(ctx: dict[str, Any]) -> None:
        await asyncio.sleep(30)

    async with arq_pool(redis_url) as pool, run_worker([sleeps], lease_s=0.3, **PICKLE) as worker:
        job = await pool.enqueue_job("sleeps", _job_id="long")
        assert job is not None
        await until_running(job)
        assert await job.abort(timeout=5, poll_delay=0.05) is True
        await eventually(lambda: worker.jobs_failed == 1, "the worker to count the abort")
        async with Client(redis_url, **PICKLE) as client:  # aqueue's producers see their own error
            with pytest.raises(JobAborted, match="aborted while running"):
                await client.job("long").result(timeout=1)


async def test_arq_abort_before_start_returns_true(redis_url: str) -> None:
    async with arq_pool(redis_url) as pool:
        job = await pool.enqueue_job("add", 1, 2)
        assert job is not None
        with pytest.raises(asyncio.TimeoutError):
            await job.abort(timeout=0)
        worker = await burst(redis_url, [add])
        assert (worker.jobs_complete, worker.jobs_failed) == (0, 1)
        with pytest.raises(asyncio.CancelledError):  # arq's record of an abort
            await job.result(timeout=1, poll_delay=0.05)


async def test_allow_abort_jobs_false_lets_jobs_finish(redis_url: str, run_worker: Any) -> None:
    async def short(ctx: dict[str, Any]) -> str:
        await asyncio.sleep(0.6)
        return "done"

    async with arq_pool(redis_url) as pool:
        early = await pool.enqueue_job("add", 1, 2, _job_id="early")
        assert early is not None
        with pytest.raises(asyncio.TimeoutError):
            await early.abort(timeout=0)  # asked before any worker runs it
        kwargs = {**PICKLE, "lease_s": 0.3, "allow_abort_jobs": False}
        async with run_worker([short, add], **kwargs) as worker:
            assert await early.result(timeout=5, poll_delay=0.05) == 3
            job = await pool.enqueue_job("short")
            assert job is not None
            await until_running(job)
            assert await job.abort(timeout=5, poll_delay=0.05) is False
            assert await job.result(timeout=1, poll_delay=0.05) == "done"
            assert (worker.jobs_complete, worker.jobs_failed) == (2, 0)


# -- a failure the codec cannot encode ------------------------------------------------------------


async def test_msgpack_failure_is_finished_as_a_failure_that_says_so(redis_url: str) -> None:
    async def fails(ctx: dict[str, Any]) -> None:
        raise ValueError("bad input")

    async with arq_pool(redis_url, **MSGPACK) as pool:
        job = await pool.enqueue_job("fails", _job_id="m1")
        assert job is not None
        worker = await burst(redis_url, [fails], **MSGPACK)  # a burst worker exits: the job is finished
        assert (worker.jobs_failed, worker.jobs_retried) == (1, 0)
        with pytest.raises(
            ArqSerializationError, match="raised ValueError: bad input, which cannot be encoded"
        ):
            await job.result(timeout=1, poll_delay=0.05)
        assert not await pool.exists("arq:job:m1", "arq:in-progress:m1", "arq:retry:m1")
    async with Client(redis_url, **MSGPACK) as client:
        with pytest.raises(SerializationError, match="ValueError: bad input"):
            await client.job("m1").result(timeout=1)


async def test_msgpack_unencodable_value_is_a_failure(redis_url: str) -> None:
    async def returns_a_set(ctx: dict[str, Any]) -> set[int]:
        return {1, 2}

    async with arq_pool(redis_url, **MSGPACK) as pool:
        job = await pool.enqueue_job("returns_a_set")
        assert job is not None
        await burst(redis_url, [returns_a_set], **MSGPACK)
        with pytest.raises(
            ArqSerializationError, match="returns_a_set returned a value that cannot be encoded"
        ):
            await job.result(timeout=1, poll_delay=0.05)


async def test_payload_in_another_codec_finishes_the_job(redis_url: str) -> None:
    async with arq_pool(redis_url) as pool:  # pickle
        job = await pool.enqueue_job("add", 1, 2, _job_id="foreign")
        assert job is not None
        worker = await burst(redis_url, [add], **MSGPACK)
        assert worker.jobs_failed == 1
        assert await job.status() == JobStatus.complete
        assert not await pool.exists("arq:job:foreign", "arq:in-progress:foreign")


# -- names and values -----------------------------------------------------------------------------


async def test_function_given_by_import_path_is_named_by_it(redis_url: str) -> None:
    async with arq_pool(redis_url) as pool:
        total = await pool.enqueue_job("tests.test_arq_compat.add", 1, 2)
        product = await pool.enqueue_job("math.mul", 6, 7)
        assert total is not None and product is not None
        worker = await burst(redis_url, ["tests.test_arq_compat.add", "tests.test_arq_compat.named_mul"])
        assert sorted(worker.functions) == ["math.mul", "tests.test_arq_compat.add"]  # a task keeps its name
        assert worker.jobs_complete == 2
        assert await total.result(timeout=5, poll_delay=0.05) == 3
        assert await product.result(timeout=5, poll_delay=0.05) == 42


async def test_tuples_stay_tuples_under_pickle(redis_url: str) -> None:
    async def pair(ctx: dict[str, Any], x: int) -> tuple[int, int]:
        return (x, x)

    async with arq_pool(redis_url) as pool:
        job = await pool.enqueue_job("pair", 1)
        assert job is not None
        await burst(redis_url, [pair])
        info = await job.result_info()
        assert info is not None
        assert info.args == (1,) and info.result == (1, 1)


# -- arq's log lines ------------------------------------------------------------------------------


async def test_log_jobs_writes_arqs_lines(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    async def boom(ctx: dict[str, Any]) -> None:
        raise RuntimeError("oops")

    caplog.set_level(logging.INFO, logger="arq.worker")
    async with arq_pool(redis_url) as pool:
        await pool.enqueue_job("add", 1, 2, _job_id="a1")
        await pool.enqueue_job("boom", _job_id="b1")
        await pool.enqueue_job("missing", _job_id="c1")
        await burst(redis_url, [add, boom], log_jobs=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "arq.worker"]
    text = re.sub(r"\d+\.\d\ds", "X.XXs", "\n".join(lines))
    assert "Starting worker for 2 functions: add, boom" in text
    assert "X.XXs → a1:add(1, 2)" in text and "X.XXs ← a1:add ● 3" in text
    assert "X.XXs ! b1:boom failed, RuntimeError: oops" in text
    assert "job c1, function 'missing' not found" in text


async def test_log_jobs_is_off_by_default(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="arq.worker")
    async with arq_pool(redis_url) as pool:
        await pool.enqueue_job("add", 1, 2)
        await burst(redis_url, [add])
    assert [r for r in caplog.records if r.name == "arq.worker"] == []


# -- the declared redis-py range ------------------------------------------------------------------


def test_declared_redis_range_has_what_the_worker_calls() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (spec,) = [d for d in project["project"]["dependencies"] if d.startswith("redis")]
    lowest = re.search(r">=\s*([\d.]+)", spec)
    assert lowest is not None, spec
    assert tuple(int(p) for p in lowest[1].split(".")) >= (5, 0, 1)  # aclose() arrived in redis-py 5.0.1
    assert hasattr(redis.asyncio.Redis, "aclose")


def test_except_arq_serialization_error_catches_aqueues() -> None:
    """An arq user's ``except arq.jobs.SerializationError`` keeps working on aqueue's errors."""
    import arq.jobs

    from aqueue.errors import DeserializationError, SerializationError

    for error, arq_class in (
        (SerializationError("x"), arq.jobs.SerializationError),
        (DeserializationError("y"), arq.jobs.DeserializationError),
    ):
        with pytest.raises(arq_class):
            raise error
        assert isinstance(error, TypeError)
