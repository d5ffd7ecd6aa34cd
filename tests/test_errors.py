"""Errors at one seam: every public call raises aqueue's errors when Redis fails, never redis-py's.

The public API is walked against Redis failing each way it can: nothing listening, a server that
died, a connection dropped mid-command (``tests/proxy.py``), and servers that answer with an error:
out of memory (``maxmemory`` with ``noeviction``), busy in a long script, a read-only replica.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.exceptions
from arq.connections import ArqRedis, RedisSettings

import aqueue
import aqueue.dead
import aqueue.monitor
import aqueue.scheduler
import aqueue.workflows
from aqueue import (
    Client,
    JobTimeout,
    RedisAuthError,
    RedisFailure,
    RedisRefusedError,
    RedisUnavailableError,
    inspection,
)
from aqueue._redis.connection import resolve_settings
from aqueue._redis.core import EnqueueJob
from aqueue._redis.errors import REDIS_ERRORS, redis_errors, redis_failure, reply_of
from aqueue._redis.wire import Wire
from aqueue.dead import dead_job, list_dead, requeue_dead
from aqueue.embedded import RedisServer, free_port
from aqueue.monitor import job_view, known_queues, live_workers, queue_stats
from aqueue.progress import progress_reporter
from aqueue.scheduler import cron, list_jobs, pause, resume, trigger
from aqueue.scheduler._keys import CronKeys
from aqueue.scheduler._registry import register_jobs
from aqueue.workflows import WorkflowRun, chain, sig, start_workflow
from tests.conftest import run_cli
from tests.proxy import freezable_proxy
from tests.refusals import busy, promote, replicate, starve

# -- every redis-py exception class is mapped ----------------------------------------------------------

Refused, Unavailable, Failure = RedisRefusedError, RedisUnavailableError, RedisFailure
#: What each of redis-py's exception classes becomes (a class redis-py adds fails the test until listed).
EXPECTED: dict[str, type[RedisFailure]] = {
    "RedisError": Failure,
    "ConnectionError": Unavailable,
    "TimeoutError": Unavailable,
    "InvalidResponse": Unavailable,
    "MaxConnectionsError": Unavailable,
    "RedisClusterException": Unavailable,
    "SlotNotCoveredError": Unavailable,
    "AuthenticationError": RedisAuthError,
    "AuthorizationError": Refused,
    "BusyLoadingError": Refused,
    "ResponseError": Refused,
    "NoScriptError": Refused,
    "OutOfMemoryError": Refused,
    "ExecAbortError": Refused,
    "ReadOnlyError": Refused,
    "NoPermissionError": Refused,
    "ModuleError": Refused,
    "AuthenticationWrongNumberOfArgsError": Refused,
    "ClusterDownError": Refused,
    "MasterDownError": Refused,
    "AskError": Refused,
    "MovedError": Refused,
    "TryAgainError": Refused,
    "ClusterCrossSlotError": Refused,
    "DataError": Failure,
    "PubSubError": Failure,
    "WatchError": Failure,
    "LockError": Failure,
    "LockNotOwnedError": Failure,
    "ChildDeadlockedError": Failure,
    "ClusterError": Failure,
}


def redis_py_exception_classes() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(redis.exceptions).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == "redis.exceptions"
    }


def test_every_redis_py_exception_class_is_caught_and_translated() -> None:
    classes = redis_py_exception_classes()
    assert set(classes) - set(EXPECTED) == set(), "redis-py has exception classes the seam does not know"
    for name, cls in classes.items():
        error = cls("1234 127.0.0.1:7001" if name in ("AskError", "MovedError") else "some reply")
        assert isinstance(error, REDIS_ERRORS), name
        failure = redis_failure(error, "redis://127.0.0.1:7000/0")
        assert type(failure) is EXPECTED[name], name
        assert "Redis at redis://127.0.0.1:7000/0" in str(failure), name


def test_the_builtin_connection_error_is_lost_redis_and_timeouts_pass_through() -> None:
    assert isinstance(redis_failure(ConnectionResetError(104, "reset")), RedisUnavailableError)
    for timeout in (JobTimeout("job j did not finish in time"), TimeoutError("caller's own deadline")):
        assert not isinstance(timeout, REDIS_ERRORS)
        with pytest.raises(type(timeout)) as raised, redis_errors("redis://h:1/0"):
            raise timeout
        assert raised.value is timeout


def test_reply_codes_are_the_same_whether_redis_py_cut_them_off_or_not() -> None:
    assert reply_of(redis.exceptions.OutOfMemoryError("command not allowed")) == (
        "OOM",
        "OOM command not allowed",
    )
    assert reply_of(redis.exceptions.ResponseError("OOM command not allowed")) == (
        "OOM",
        "OOM command not allowed",
    )
    assert reply_of(redis.exceptions.ResponseError("unknown command 'X'")) == (
        "ERR",
        "ERR unknown command 'X'",
    )
    assert reply_of(redis.exceptions.ResponseError("BUSY Redis is busy")) == ("BUSY", "BUSY Redis is busy")


@pytest.fixture
def oom_server(transport: str) -> Iterator[RedisServer]:
    """A server of its own, turned out of memory (``maxmemory 1``, ``noeviction``) by ``starve``.

    Its tests run on both hot-path transports (``transport``), as the suite's shared server's do.
    """
    with RedisServer() as server:
        yield server


async def test_real_error_replies_give_their_code_on_both_transports(
    oom_server: RedisServer, transport: str
) -> None:
    pool = await aqueue._redis.connection.connect(resolve_settings(oom_server.url))
    wire = Wire(resolve_settings(oom_server.url))
    execute: Callable[..., Awaitable[Any]] = pool.execute_command if transport == "redis-py" else wire.execute
    try:
        await execute("SET", "s", "v")
        starve(oom_server)
        cases = [
            (("SET", "k", "v"), "OOM"),
            (("EVAL", "return redis.call('SET', KEYS[1], 'v')", 1, "k"), "OOM"),  # a refusal inside a script
            (("LLEN", "s"), "WRONGTYPE"),
            (("EVALSHA", "0" * 40, 0), "NOSCRIPT"),
            (("NOSUCHCOMMAND",), "ERR"),
        ]
        for command, code in cases:
            with pytest.raises(REDIS_ERRORS) as raised:
                await execute(*command)
            failure = redis_failure(raised.value, "here")
            assert isinstance(failure, RedisRefusedError) and failure.code == code, (command, failure)
            assert failure.reply.startswith(code), failure.reply
        async with pool.pipeline(transaction=False) as pipe:  # redis-py rewrites pipeline errors
            pipe.set("k", "v")
            with pytest.raises(redis.exceptions.OutOfMemoryError) as raised:
                await pipe.execute()
        failure = redis_failure(raised.value)
        assert isinstance(failure, RedisRefusedError) and failure.code == "OOM"
        assert str(failure) == (
            "Redis refused the write: it is out of memory (maxmemory reached, noeviction); free memory "
            "or raise maxmemory. Redis said: OOM command not allowed when used memory > 'maxmemory'."
        )
    finally:
        await wire.aclose()
        await pool.aclose()


# -- the public API, walked -------------------------------------------------------------------------

Call = Callable[[Client], Awaitable[Any]]
JOB, RUN, DEAD, CRON = "the-job", "the-run", "the-dead-job", "the-cron-job"


async def report_progress(client: Client) -> None:
    """What a task's ``ctx["progress"]`` does."""
    await progress_reporter(client.redis, client.keys, JOB, client.job_serializer)(0.5, "half")


#: Every public call that talks to Redis, by name.
PUBLIC_CALLS: dict[str, Call] = {
    "Client.enqueue": lambda c: c.enqueue("noop", 1),
    "Client.enqueue_many": lambda c: c.enqueue_many("noop", [(1,), (2,)]),
    "Client.run": lambda c: c.run(chain(sig("noop"), sig("noop"))),
    "Client.write_jobs": lambda c: c.write_jobs(c.default_queue, [EnqueueJob("w", b"{}", 0, 60_000)], 0),
    "Client.abort_job": lambda c: c.abort_job(JOB, c.default_queue),
    "workflows.start_workflow": lambda c: start_workflow(c, chain(sig("noop"), sig("noop"))),
    "chain(...).enqueue": lambda c: chain(sig("noop"), sig("noop")).enqueue(c),
    "Job.status": lambda c: c.job(JOB).status(),
    "Job.result": lambda c: c.job(JOB).result(timeout=3),
    "Job.wait": lambda c: c.job(JOB).wait(timeout=3),
    "Job.result_info": lambda c: c.job(JOB).result_info(),
    "Job.info": lambda c: c.job(JOB).info(),
    "Job.unique_key": lambda c: c.job(JOB).unique_key(),
    "Job.progress": lambda c: c.job(JOB).progress(),
    "Job.abort": lambda c: c.job(JOB).abort(timeout=0),
    "Job.priority": lambda c: c.job(JOB).priority(),
    "Client.pause_queue": lambda c: c.pause_queue("q"),
    "Client.resume_queue": lambda c: c.resume_queue("q"),
    "Client.paused_queues": lambda c: c.paused_queues(),
    "Client.purge_queue": lambda c: c.purge_queue("q"),
    "ctx['progress']": report_progress,
    "WorkflowRun.status": lambda c: WorkflowRun(RUN, c).status(),
    "WorkflowRun.result": lambda c: WorkflowRun(RUN, c).result(timeout=3),
    "WorkflowRun.cancel": lambda c: WorkflowRun(RUN, c).cancel(),
    "monitor.queue_stats": queue_stats,
    "monitor.live_workers": live_workers,
    "monitor.known_queues": known_queues,
    "monitor.job_view": lambda c: job_view(c, JOB),
    "dead.list_dead": list_dead,
    "dead.dead_job": lambda c: dead_job(c, DEAD),
    "inspection.list_jobs": inspection.list_jobs,
    "inspection.job_detail": lambda c: inspection.job_detail(c, JOB),
    "dead.requeue_dead": lambda c: requeue_dead(c, [DEAD]),
    "scheduler.list_jobs": list_jobs,
    "scheduler.pause": lambda c: pause(c, CRON),
    "scheduler.resume": lambda c: resume(c, CRON),
    "scheduler.trigger": lambda c: trigger(c, CRON),
}
#: Public coroutines the walk leaves out: they open or close connections (see the connection tests),
#: or they are the default client's (a Client like any other).
NOT_WALKED = {"Client.connect", "Client.aclose", "enqueue", "default_client", "close_default_client"}


def public_coroutines() -> set[str]:
    names = {
        f"{cls.__name__}.{name}"
        for cls in (Client, aqueue.Job, WorkflowRun)
        for name, member in vars(cls).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }
    modules = {"monitor": aqueue.monitor, "dead": aqueue.dead, "scheduler": aqueue.scheduler}
    modules |= {"inspection": inspection}
    modules |= {"workflows": aqueue.workflows, "": aqueue}
    for label, module in modules.items():
        for name in module.__all__:
            if inspect.iscoroutinefunction(getattr(module, name)):
                names.add(f"{label}.{name}" if label else name)
    return names


def test_the_walk_covers_every_public_call() -> None:
    assert public_coroutines() - NOT_WALKED == set(PUBLIC_CALLS) - {"ctx['progress']", "chain(...).enqueue"}


#: The calls that only read: a server that refuses writes still answers them.
READS = {
    "Job.status",
    "Job.result_info",
    "Job.info",
    "Job.unique_key",
    "Job.progress",
    "WorkflowRun.status",
    "monitor.queue_stats",
    "monitor.live_workers",
    "monitor.job_view",
    "dead.list_dead",
    "dead.dead_job",
    "inspection.list_jobs",
    "inspection.job_detail",
    "scheduler.list_jobs",
    "Job.priority",
    "Client.paused_queues",
    "monitor.known_queues",
    "Client.purge_queue",  # of an empty queue: it finds nothing to delete, so writes nothing
}


#: The calls that wait for a job or run to end: on a server that answers reads they just wait.
WAITS = {"Job.result", "Job.wait", "WorkflowRun.result"}


async def seed(url: str) -> None:
    """Write what the calls act on: a queued job, a workflow run, a dead letter, a registered cron job."""
    async with Client(url) as client:
        await client.enqueue("noop", _job_id=JOB)
        await client.run(chain(sig("noop"), sig("noop")), run_id=RUN)
        await client.redis.zadd(client.keys.dead, {DEAD: 1})
        payload = client.job_serializer({"f": "noop", "a": [], "k": {}, "t": None, "et": 1})
        await client.redis.hset(client.keys.dead_job(DEAD), mapping={"payload": payload, "queue": "q"})
        definition = [(cron("0 0 1 1 *", "noop", name=CRON), client.default_queue)]
        await register_jobs(client.redis, CronKeys(client.keys), definition, client.job_serializer, _now())
        assert await client.job(JOB).status() == aqueue.JobStatus.queued


def _now() -> datetime:
    return datetime.now(UTC)


async def walk(client: Client, names: set[str] | None = None) -> dict[str, BaseException | None]:
    """Make each public call (each bounded in time); return what each raised (None: it returned)."""
    raised: dict[str, BaseException | None] = {}
    for name, call in PUBLIC_CALLS.items():
        if names is not None and name not in names:
            continue
        try:
            await asyncio.wait_for(call(client), 20)
            raised[name] = None
        except Exception as e:
            raised[name] = e
    return raised


def assert_all_raise(
    raised: dict[str, BaseException | None], kind: type[RedisFailure], *fragments: str
) -> None:
    wrong = {n: repr(e) for n, e in raised.items() if type(e) is not kind}
    assert wrong == {}, f"calls that did not raise {kind.__name__}"
    for name, error in raised.items():
        for fragment in fragments:
            assert fragment in str(error), (name, str(error))


async def test_a_port_nothing_listens_on() -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with pytest.raises(RedisUnavailableError, match=f"cannot reach Redis at {url}"):
        await Client(RedisSettings(host="127.0.0.1", port=port, conn_retries=0)).connect()
    pool = ArqRedis(host="127.0.0.1", port=port)
    async with Client(pool, retry_window_s=0) as client:  # a pool passed in: no connection until a call
        assert_all_raise(await walk(client), RedisUnavailableError, f"lost Redis at {url}")
    await pool.aclose()


async def test_a_redis_that_died(transport: str) -> None:
    server = RedisServer().start()
    try:
        await seed(server.url)
        async with Client(server.url, retry_window_s=0) as client:
            await client.enqueue("noop")  # opens the lean connection too
            server.stop()
            assert_all_raise(await walk(client), RedisUnavailableError, f"lost Redis at {server.url}")
    finally:
        server.close()


async def test_a_redis_that_drops_mid_command(redis_url: str) -> None:
    await seed(redis_url)
    async with freezable_proxy(redis_url) as proxy, Client(proxy.url, retry_window_s=0) as client:
        assert await client.job(JOB).status() == aqueue.JobStatus.queued
        proxy.drop()
        for name in PUBLIC_CALLS:
            before = proxy.dropped
            raised = await walk(client, {name})
            assert_all_raise(raised, RedisUnavailableError, f"lost Redis at {proxy.url}")
            assert proxy.dropped > before, f"{name} never reached the proxy"


async def test_a_redis_out_of_memory_refuses_writes_and_answers_reads(oom_server: RedisServer) -> None:
    await seed(oom_server.url)
    async with Client(oom_server.url) as client:
        starve(oom_server)
        raised = await walk(client, set(PUBLIC_CALLS) - WAITS)
    answered = {n for n, e in raised.items() if e is None}
    assert answered >= READS
    refused = {n: e for n, e in raised.items() if n not in answered}  # the rest: scripts that delete first
    assert_all_raise(refused, RedisRefusedError, "refused the write: it is out of memory", "Redis said: OOM")
    must = {"Client.enqueue", "Client.enqueue_many", "Client.run", "chain(...).enqueue", "ctx['progress']"}
    must |= {"Client.write_jobs", "workflows.start_workflow", "scheduler.pause", "scheduler.trigger"}
    assert must <= set(refused)
    assert all(e.code == "OOM" for e in refused.values())  # type: ignore[attr-defined]


async def test_a_redis_busy_in_a_long_script_refuses_every_call(transport: str) -> None:
    with RedisServer() as server:
        await seed(server.url)
        async with Client(server.url) as client:
            await client.enqueue("noop")
            with busy(server):
                raised = await walk(client)
        assert_all_raise(raised, RedisRefusedError, "refused the command: it is busy running a long script")
        assert all(e.code == "BUSY" for e in raised.values())  # type: ignore[union-attr]


async def test_a_read_only_replica_refuses_writes_and_answers_reads(transport: str) -> None:
    with RedisServer() as primary, RedisServer() as replica:
        await seed(primary.url)
        replicate(replica, primary)
        async with Client(replica.url) as client:
            raised = await walk(client, set(PUBLIC_CALLS) - WAITS)
        promote(replica)
    answered = {n for n, e in raised.items() if e is None}
    assert answered == READS
    refused = {n: e for n, e in raised.items() if n not in answered}
    assert_all_raise(refused, RedisRefusedError, "refused the write: it is a read-only replica", "READONLY")
    assert all(e.code == "READONLY" for e in refused.values())  # type: ignore[attr-defined]


# -- the command line: one line on stderr, exit 1 --------------------------------------------------


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_cli_enqueue_on_a_redis_out_of_memory(oom_server: RedisServer) -> None:
    starve(oom_server)
    done = run_cli("enqueue", "noop", "1", redis_url=oom_server.url)
    assert_one_line_error(done, f"Redis at {oom_server.url} refused the write: it is out of memory", "OOM")


def test_cli_enqueue_on_a_read_only_replica(transport: str) -> None:
    with RedisServer() as primary, RedisServer() as replica:
        replicate(replica, primary)
        done = run_cli("enqueue", "noop", redis_url=replica.url)
        assert_one_line_error(done, "refused the write: it is a read-only replica", "READONLY")


@pytest.mark.parametrize(
    ("command", "on"),
    [
        (["status"], b"ZCOUNT"),
        (["job", JOB], b"EXISTS"),
        (["dead", "list"], b"ZRANGE"),
        (["cron", "list"], b"SMEMBERS"),
    ],
)
async def test_cli_reads_on_a_redis_that_drops_mid_command(
    redis_url: str, command: list[str], on: bytes
) -> None:
    await seed(redis_url)
    async with freezable_proxy(redis_url) as proxy:
        proxy.drop(on=b"\r\n" + on + b"\r\n")
        done = await asyncio.to_thread(run_cli, *command, redis_url=proxy.url)
        assert proxy.dropped >= 1
    assert_one_line_error(done, f"lost Redis at {proxy.url}")
