"""The process pool: ``@task(executor="process")`` in child processes owned by the worker.

Real children (forkserver), a real redis-server. Crashes (an exception, ``os._exit``, a segfault, a
``kill -9``) fail one attempt each and the worker carries on; timeouts, aborts and shutdown kill the
child; no child outlives its worker. Timing bounds are generous: they prove behaviour, not speed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aqueue import (
    Client,
    ConfigurationError,
    JobAborted,
    JobTimeout,
    MaxTriesExceeded,
    ProcessCrashed,
    SerializationError,
    TaskError,
    Worker,
    task,
)
from aqueue._worker.procpool import CTX_KEYS, START_METHOD, ProcessPool, ProcessPoolExtension
from aqueue.settings import create_worker
from aqueue.testing import eager
from bench.procpool.__main__ import measure
from tests.conftest import WorkerFactory, aqueue_cli
from tests.procpool_tasks import Point, burn, crash, echo, sleeper, spin, when
from tests.support import LoggedProcess, eventually

pytestmark = pytest.mark.transport("wire")  # the pool does not touch the transport: one run is enough


@task
async def quick(ctx: dict[str, Any], sent: float) -> float:
    """An asyncio job: how long after ``sent`` it started."""
    return time.time() - sent


@task
def in_thread(ctx: dict[str, Any]) -> int:
    """A plain def without an executor: a thread of the worker's own process."""
    return os.getpid()


def pool_of(worker: Worker) -> ProcessPool:
    extension = worker.extensions[0]
    assert isinstance(extension, ProcessPoolExtension) and extension.pool is not None
    return extension.pool


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def pid_in(path: Path) -> int:
    text = await eventually(lambda: path.exists() and path.read_text(), f"a pid in {path}")
    return int(text)


@pytest.fixture
async def pooled(run_worker: WorkerFactory) -> AsyncIterator[Worker]:
    """A worker with a pool of two children and every process task of ``procpool_tasks``."""
    async with run_worker(
        [burn, crash, echo, sleeper, spin, when, quick, in_thread], process_pool_size=2
    ) as w:
        yield w


# -- declaring ----------------------------------------------------------------------------------


def test_executor_is_for_plain_functions() -> None:
    async def coroutine(ctx: Any) -> None: ...

    with pytest.raises(ConfigurationError, match=r"executor='process'\) is for plain def functions"):
        task(executor="process")(coroutine)
    with pytest.raises(ConfigurationError, match="executor must be 'thread' or 'process', got 'fork'"):
        task(executor="fork")(lambda ctx: None)  # type: ignore[call-overload]
    assert task(executor="thread")(lambda ctx: None).executor == "thread"


async def test_a_process_task_must_be_importable_by_the_child() -> None:
    @task(executor="process")
    def local(ctx: Any) -> None: ...

    with pytest.raises(ConfigurationError, match="'local' runs in a process pool.*defined inside a function"):
        Worker([local], redis_settings="redis://127.0.0.1:1")


@pytest.mark.parametrize("option", ["process_pool_size", "max_tasks_per_child"])
@pytest.mark.parametrize("value", [0, -1, 1.5])
async def test_pool_options_are_positive_integers(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=f"{option} must be a positive integer, got {value!r}"):
        Worker([burn], redis_settings="redis://127.0.0.1:1", **{option: value})


async def test_pool_options_come_from_settings_and_default_to_the_cpu_count() -> None:
    class Settings:
        functions = [burn]
        redis_settings = "redis://127.0.0.1:1"
        max_tasks_per_child = 7

    extension = create_worker(Settings).extensions[0]
    assert isinstance(extension, ProcessPoolExtension)
    assert (extension.size, extension.max_tasks_per_child) == (os.cpu_count(), 7)
    plain = Worker([in_thread], redis_settings="redis://127.0.0.1:1")
    assert not any(isinstance(e, ProcessPoolExtension) for e in plain.extensions)


# -- running ------------------------------------------------------------------------------------


async def test_arguments_results_and_ctx_cross_through_the_serializer(pooled: Worker, client: Client) -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    job = await client.enqueue("echo", Point(1, 2), (3, 4), b"\x00", key={"p": Point(5, 6)})
    got = await job.result(timeout=20)
    assert got["args"] == (Point(1, 2), (3, 4), b"\x00")
    assert got["kwargs"] == {"key": {"p": Point(5, 6)}}
    assert sorted(got["ctx"]) == sorted(CTX_KEYS)  # plain values only: no redis, no lifespan entries
    assert got["ctx"]["job_id"] == job.job_id and got["ctx"]["job_try"] == 1
    assert got["pid"] != os.getpid() and got["pid"] in pool_of(pooled).pids
    assert await (await client.enqueue("when", moment)).result(timeout=20) == moment
    assert await (await client.enqueue("in_thread")).result(timeout=20) == os.getpid()  # unchanged


async def test_several_jobs_run_in_parallel_children(pooled: Worker, client: Client) -> None:
    jobs = [await client.enqueue("spin", 0.3) for _ in range(4)]
    pids = [await job.result(timeout=30) for job in jobs]
    assert len(set(pids)) == 2 and set(pids) == set(pool_of(pooled).pids)
    assert await (await client.enqueue("burn", 1000)).result(timeout=20) == sum(i * i for i in range(1000))


async def test_a_task_exception_and_an_unencodable_result_fail_only_that_job(
    pooled: Worker, client: Client
) -> None:
    await (await client.enqueue("burn", 10)).result(timeout=20)
    children = pool_of(pooled).pids
    with pytest.raises(ValueError, match="bad value 7") as caught:
        await (await client.enqueue("crash", "raise")).result(timeout=20)
    assert "procpool_tasks.py" in str(caught.value.__notes__)  # the child's traceback came along
    with pytest.raises(TaskError, match="Unrebuildable: 1/2"):
        await (await client.enqueue("crash", "unrebuildable")).result(timeout=20)
    with pytest.raises(SerializationError, match="crash returned a value that cannot be encoded"):
        await (await client.enqueue("crash", "result")).result(timeout=20)
    assert pool_of(pooled).pids == children  # the children that ran them are still there


@pytest.mark.parametrize(("how", "death"), [("exit", "exited with code 3"), ("segv", "died with SIGSEGV")])
async def test_a_dying_child_fails_its_attempt_which_is_retried(
    pooled: Worker, client: Client, how: str, death: str
) -> None:
    neighbour = await client.enqueue("spin", 1.0)
    await asyncio.sleep(0.3)  # the neighbour's child is busy when the other one dies
    assert await (await client.enqueue("crash", how)).result(timeout=20) == "ok on try 2"
    with pytest.raises(MaxTriesExceeded, match=rf"last error ProcessCrashed: crash: the child .* {death}"):
        await (await client.enqueue("crash", how, True)).result(timeout=20)
    assert await neighbour.result(timeout=20) > 0  # not failed by the crashes next door
    await eventually(
        lambda: (pooled.jobs_retried, pooled.jobs_failed) == (2, 1), "two retries and one failure counted"
    )


async def test_kill_9_of_a_child_fails_that_job_and_the_pool_goes_on(
    pooled: Worker, client: Client, tmp_path: Path
) -> None:
    job = await client.enqueue("sleeper", 30, str(tmp_path / "pid"))
    pid = await pid_in(tmp_path / "pid")
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(
        ProcessCrashed, match=rf"sleeper: the child process \(pid {pid}\) .* died with SIGKILL"
    ):
        await job.result(timeout=20)
    assert await (await client.enqueue("burn", 10)).result(timeout=20) == 285
    assert pid not in pool_of(pooled).pids


async def test_a_timeout_kills_the_child(run_worker: WorkerFactory, client: Client, tmp_path: Path) -> None:
    async with run_worker([sleeper], process_pool_size=1, job_timeout=2) as worker:
        await (await client.enqueue("sleeper", 0)).result(timeout=20)  # the child is up (a slow start counts)
        job = await client.enqueue("sleeper", 30, str(tmp_path / "pid"))
        pid = await pid_in(tmp_path / "pid")
        with pytest.raises(TimeoutError, match="sleeper timed out after 2s") as caught:
            await job.result(timeout=20)
        assert not isinstance(caught.value, JobTimeout)  # the job's own timeout, not our wait's
        await eventually(lambda: gone(pid), f"child {pid} gone")
        assert await (await client.enqueue("sleeper", 0)).result(timeout=20) not in (pid, os.getpid())
        assert len(pool_of(worker).pids) == 1


async def test_an_abort_kills_the_child(pooled: Worker, client: Client, tmp_path: Path) -> None:
    job = await client.enqueue("sleeper", 30, str(tmp_path / "pid"))
    pid = await pid_in(tmp_path / "pid")
    assert await job.abort(timeout=10)
    with pytest.raises(JobAborted):
        await job.result(timeout=5)
    await eventually(lambda: gone(pid), f"child {pid} gone")


async def test_shutdown_stops_every_child(redis_url: str, client: Client, tmp_path: Path) -> None:
    worker = Worker(
        [sleeper, echo],
        redis_settings=redis_url,
        handle_signals=False,
        process_pool_size=2,
        job_completion_wait=0.5,
    )
    runner = asyncio.create_task(worker.async_run())
    job = await client.enqueue("sleeper", 30, str(tmp_path / "pid"))  # one busy child
    busy = await pid_in(tmp_path / "pid")
    await (await client.enqueue("echo")).result(timeout=20)  # one idle child
    pids = pool_of(worker).pids
    assert busy in pids and len(pids) == 2
    worker.request_stop()
    await asyncio.wait_for(runner, 15)
    await worker.close()
    await eventually(lambda: all(gone(pid) for pid in pids), "every child gone")
    assert await job.status() == "queued"  # handed back, not failed


async def test_a_child_is_replaced_after_max_tasks_per_child(
    run_worker: WorkerFactory, client: Client
) -> None:
    async with run_worker([echo], process_pool_size=1, max_tasks_per_child=2):
        pids = [(await (await client.enqueue("echo")).result(timeout=20))["pid"] for _ in range(5)]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    await eventually(lambda: all(gone(pid) for pid in pids), "every child gone")


async def test_the_event_loop_is_not_blocked_by_a_busy_child(
    run_worker: WorkerFactory, client: Client
) -> None:
    async with run_worker([spin, quick], process_pool_size=1):
        await (await client.enqueue("spin", 0.01)).result(timeout=20)  # the child is started
        busy = await client.enqueue("spin", 2.0)
        await asyncio.sleep(0.3)
        delays = [await (await client.enqueue("quick", time.time())).result(timeout=5) for _ in range(3)]
        # they ran while the CPU-bound job still runs: a loop it blocked would start them after it
        assert await busy.status() == "in_progress"
        assert max(delays) < 1.5, delays
        await busy.result(timeout=20)


def test_the_start_method_is_never_plain_fork() -> None:
    assert START_METHOD in ("forkserver", "spawn")


async def test_eager_mode_runs_process_tasks_in_children(redis_url: str) -> None:
    async with eager([echo], redis=redis_url):
        got = await (await echo.enqueue(Point(7, 8))).result(timeout=20)
    assert got["args"] == (Point(7, 8),) and got["pid"] != os.getpid()


async def test_the_benchmark_runs_a_few_jobs_in_both_children(redis_url: str) -> None:
    run = await measure(redis_url, "process", jobs=6, work=20_000, size=2)
    assert (run.mode, run.jobs, run.pids) == ("process", 6, 2)
    assert run.children_cpu_s > 0 and run.cores > 0


async def test_children_of_a_killed_worker_exit_after_their_task(
    redis_url: str, client: Client, tmp_path: Path
) -> None:
    worker = LoggedProcess(
        aqueue_cli("worker", "tests.procpool_tasks.Settings", redis_url=redis_url), "worker"
    )
    try:
        await worker.ready()
        await client.enqueue("sleeper", 2.0, str(tmp_path / "pid"))
        busy = await pid_in(tmp_path / "pid")
        idle = (await (await client.enqueue("echo")).result(timeout=20))["pid"]
        assert idle != busy
        worker.kill()  # SIGKILL: no clean-up runs in the worker
        await eventually(lambda: gone(idle) and gone(busy), "both children gone", timeout=15)
    finally:
        worker.kill()
