"""Process-level tests: real ``python -m aqueue worker`` children on a real redis-server.

The children import their tasks and settings from ``tests/proc_tasks.py``; the tasks leave traces
(pids) under ``proc:`` keys so these tests can tell which process ran what. Timing bounds are
generous on purpose: the latency targets live in the benchmarks, these tests prove behaviour.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Client, MaxTriesExceeded, SerializationError, UnknownTaskError, Worker
from aqueue.embedded import RedisServer, free_port
from aqueue.jobs import JobStatus
from aqueue.serialization import job_deserializer
from tests.conftest import ROOT, aqueue_cli, subprocess_env
from tests.support import LoggedProcess, eventually


class Child(LoggedProcess):
    """A worker child process whose combined stdout/stderr is collected by a reader thread."""

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    async def wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running {timeout}s later:\n{self.log}")
            await asyncio.sleep(0.02)
        self._reader.join(5)
        return self.proc.returncode


Spawn = Callable[..., Child]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start worker children: ``spawn("BasicSettings", redis_url)``; all are killed afterwards."""
    children: list[Child] = []

    def start(settings: str, redis_url: str, *args: str) -> Child:
        proc = aqueue_cli("worker", f"tests.proc_tasks.{settings}", *args, redis_url=redis_url)
        child = Child(proc, f"worker-{len(children)}({settings}, pid {proc.pid})")
        children.append(child)
        return child

    try:
        yield start
    finally:
        for child in children:
            child.kill()


def ints(r: sync_redis.Redis, key: str) -> list[int]:
    return [int(x) for x in r.lrange(key, 0, -1)]


def now_ms() -> int:
    return int(time.time() * 1000)


# -- 1. two workers, one producer process -------------------------------------------------------------

PRODUCER = """
import asyncio, json, sys
import aqueue

async def main():
    jobs = [await aqueue.enqueue("mark", i) for i in range(200)]
    infos = await asyncio.gather(*(job.wait(timeout=60) for job in jobs))
    leaked = sorted(m for m in sys.modules if m == "tests" or m.startswith("tests."))
    rows = [[i.success, i.result if i.success else repr(i.result), i.job_try] for i in infos]
    print(json.dumps({"leaked": leaked, "rows": rows}))
    await aqueue.close_default_client()

asyncio.run(main())
"""


@pytest.mark.timeout(90)
async def test_two_workers_share_a_queue_fed_by_a_producer_process(
    redis_url: str, sync_r: sync_redis.Redis, spawn: Spawn
) -> None:
    workers = [spawn("BasicSettings", redis_url), spawn("BasicSettings", redis_url)]
    for w in workers:
        await w.ready()

    producer = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", PRODUCER],
        cwd=ROOT,
        env=subprocess_env(redis_url),
        capture_output=True,
        text=True,
        timeout=75,
    )
    assert producer.returncode == 0, producer.stderr
    out = json.loads(producer.stdout)
    assert out["leaked"] == [], "the producer must not import the task module"

    rows = out["rows"]
    assert len(rows) == 200
    assert all(ok for ok, _, _ in rows), [r for r in rows if not r[0]][:3]
    assert [result["i"] for _, result, _ in rows] == list(range(200))
    assert all(job_try == 1 for _, _, job_try in rows)

    # every job ran exactly once, in one of the two worker processes
    marks = [m.decode().split(":") for m in sync_r.lrange("proc:marks", 0, -1)]
    assert sorted(int(i) for i, _ in marks) == list(range(200))
    by_pid = Counter(int(pid) for _, pid in marks)
    pids = {w.pid for w in workers}
    assert set(by_pid) == pids, f"both workers should have run jobs: {dict(by_pid)}"
    assert {result["pid"] for _, result, _ in rows} == pids
    print(f"\njobs per worker pid: {dict(by_pid)}")
    assert sync_r.zcard("arq:queue") == 0
    assert not sync_r.keys("arq:in-progress:*")
    assert all(w.alive() for w in workers)


# -- 2. SIGTERM: graceful stop ------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_sigterm_lets_a_running_job_finish(
    client: Client, redis_url: str, sync_r: sync_redis.Redis, spawn: Spawn
) -> None:
    worker = await spawn("BasicSettings", redis_url).ready()  # job_completion_wait = 10
    job = await client.enqueue("step", "graceful", 1.0)
    assert job is not None
    await eventually(lambda: ints(sync_r, "proc:started:graceful"), "the job to start")

    sent = time.monotonic()
    worker.send(signal.SIGTERM)
    assert await worker.wait_exit(15) == 0
    took = time.monotonic() - sent

    assert "stopping gracefully" in worker.log
    assert took > 0.5, f"exited {took:.2f}s after SIGTERM: it cannot have waited for the 1 s job"
    info = await job.result_info()  # already stored when the process is gone
    assert info is not None and info.success, worker.log
    assert info.result == {"pid": worker.pid, "try": 1}
    assert ints(sync_r, "proc:finished:graceful") == [worker.pid]
    assert "handed" not in worker.log


@pytest.mark.timeout(60)
async def test_sigterm_hands_back_a_job_longer_than_the_grace_period(
    client: Client, redis_url: str, sync_r: sync_redis.Redis, spawn: Spawn
) -> None:
    a = await spawn("ShortGraceSettings", redis_url).ready()  # job_completion_wait = 1
    job = await client.enqueue("step", "long", 30.0)
    assert job is not None
    await eventually(lambda: ints(sync_r, "proc:started:long"), "the job to start")
    assert await job.status() == JobStatus.in_progress

    sent = time.monotonic()
    a.send(signal.SIGTERM)
    assert await a.wait_exit(10) == 0
    took = time.monotonic() - sent
    print(f"\nexit {took:.2f}s after SIGTERM with a 1 s grace period and a 30 s job")
    assert 0.8 < took < 8

    assert "handed 1 unfinished jobs back to the queue" in a.log
    assert await job.status() == JobStatus.queued
    assert not sync_r.exists(f"arq:in-progress:{job.job_id}")
    assert not sync_r.hexists("arq:deliveries", job.job_id), "a handed-back delivery must not count"
    assert ints(sync_r, "proc:finished:long") == []

    sync_r.set("proc:duration:long", 0.2)  # the next attempt is short
    b = await spawn("BasicSettings", redis_url).ready()
    info = await job.wait(timeout=20)
    assert info.success, b.log
    assert info.result["pid"] == b.pid
    assert info.result["try"] == 1  # a graceful hand-back does not use up a try
    assert ints(sync_r, "proc:started:long") == [a.pid, b.pid]
    assert ints(sync_r, "proc:finished:long") == [b.pid]


# -- 3. kill -9: the lease lapses and another worker takes over ------------------------------------


@pytest.mark.timeout(60)
async def test_sigkill_recovery_by_an_idle_worker(
    client: Client, redis_url: str, sync_r: sync_redis.Redis, spawn: Spawn
) -> None:
    a = await spawn("BasicSettings", redis_url).ready()  # default lease_s = 5
    job = await client.enqueue("step", "kill9", 250.0)  # task timeout is 300 s
    assert job is not None
    await eventually(lambda: ints(sync_r, "proc:started:kill9") == [a.pid], "worker A to start the job")

    b = await spawn("BasicSettings", redis_url).ready()
    await asyncio.sleep(0.3)  # B is idle: the job is claimed by A
    assert await job.status() == JobStatus.in_progress
    assert ints(sync_r, "proc:started:kill9") == [a.pid]
    sync_r.set("proc:duration:kill9", 0.2)

    killed_at = time.time()
    a.send(signal.SIGKILL)
    info = await job.wait(timeout=30)
    done = time.time() - killed_at
    assert info.start_time is not None
    recovery = info.start_time.timestamp() - killed_at
    print(
        f"\nkill -9 recovery (lease 5 s): B started the job {recovery:.2f}s after SIGKILL, "
        f"result {done:.2f}s after"
    )

    assert await a.wait_exit(5) == -signal.SIGKILL
    assert info.success, b.log
    assert info.result == {"pid": b.pid, "try": 2}
    assert recovery > 2.0, "B must not take the job while A's lease is still valid"
    assert done < 30
    assert ints(sync_r, "proc:started:kill9") == [a.pid, b.pid]
    assert ints(sync_r, "proc:finished:kill9") == [b.pid]
    assert b.alive()


# -- 4. SIGSTOP: a paused worker's late outcome is fenced ------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("task", ["step", "stubborn"])
async def test_sigstop_fencing(
    task: str, client: Client, redis_url: str, sync_r: sync_redis.Redis, spawn: Spawn
) -> None:
    """A is paused mid-job; B takes over when A's 1 s lease lapses; A's late outcome must not count.

    ``step`` returns normally; ``stubborn`` ignores the cancellation and asks for a retry on its first
    try, so A's stale finish (a retry that would re-queue the job) reaches Redis and must be refused.
    """
    tag = f"stop-{task}"
    job_id = f"fenced-{task}"
    done_channel = f"arq:done:{job_id}"
    pubsub = sync_r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(done_channel)
    try:
        a = await spawn("ShortLeaseSettings", redis_url).ready()  # lease_s = 1
        job = await client.enqueue(task, tag, 6.0, _job_id=job_id)
        assert job is not None
        await eventually(lambda: ints(sync_r, f"proc:started:{tag}"), "A to start the job", interval=0.005)
        assert ints(sync_r, f"proc:started:{tag}") == [a.pid]
        sync_r.set(f"proc:duration:{tag}", 1.0)  # later attempts are short

        # while A is healthy it renews its lease: B, idle for longer than a lease, must not take the job
        b = await spawn("ShortLeaseSettings", redis_url).ready()
        await asyncio.sleep(1.5)
        assert ints(sync_r, f"proc:started:{tag}") == [a.pid], "B took a job whose lease A kept renewing"
        assert await job.status() == JobStatus.in_progress

        a.send(signal.SIGSTOP)
        stopped_at = time.monotonic()
        info = await job.wait(timeout=20)
        print(f"\n{task}: B finished the job {time.monotonic() - stopped_at:.2f}s after SIGSTOP of A")
        assert info.success, b.log
        assert info.result == {"pid": b.pid, "try": 2}

        a.send(signal.SIGCONT)
        if task == "stubborn":  # it survives the cancellation: its retry reaches the fence in Redis
            await eventually(lambda: a.pid in ints(sync_r, f"proc:finished:{tag}"), "A's continuation")
            warning = re.compile(rf"WARNING .*job {job_id}: claim was taken over")
        else:
            warning = re.compile(rf"WARNING .*job {job_id}: (lease lost|claim was taken over)")
            await a.wait_log(warning, timeout=15)
        await asyncio.sleep(1.0)  # room for a wrongly recorded outcome or retry to show

        assert a.alive() and b.alive()
        after = await job.result_info()
        assert after is not None and after.result == info.result, "the stored result must stay B's"
        assert ints(sync_r, f"proc:started:{tag}") == [a.pid, b.pid], "no third run"
        assert sync_r.zscore("arq:queue", job_id) is None
        assert not sync_r.exists(f"arq:in-progress:{job_id}", f"arq:job:{job_id}", f"arq:retry:{job_id}")
        assert not sync_r.hexists("arq:deliveries", job_id)
        published = []
        deadline = time.monotonic() + 0.5  # get_message returns None for the (ignored) subscribe reply too
        while time.monotonic() < deadline:
            if (message := pubsub.get_message(timeout=0.1)) is not None:
                published.append(message["data"])
        assert published == [b"ok"], f"exactly one outcome may be recorded, got {published}"
        found = await a.wait_log(warning, timeout=5)
        print(f"A logged: {found.group(0)}")
    finally:
        pubsub.close()


# -- 5. a job that kills every worker ends up dead-lettered ------------------------------------------


@pytest.mark.timeout(90)
async def test_job_killing_its_worker_is_dead_lettered(
    client: Client, redis_url: str, sync_r: sync_redis.Redis, spawn: Spawn
) -> None:
    job = await client.enqueue("suicide")
    assert job is not None
    deaths: list[tuple[int, int]] = []
    survivor: Child | None = None
    for _ in range(8):  # the supervisor: restart the worker while it keeps dying (bounded)
        worker = spawn("DeadLetterSettings", redis_url)  # lease_s = 1, max_deliveries = 3
        await eventually(
            lambda w=worker: not w.alive() or sync_r.zscore("arq:dead", job.job_id) is not None,
            "the worker to die or the job to be dead-lettered",
            timeout=20,
        )
        if not worker.alive():
            deaths.append((worker.pid, worker.proc.returncode))
            continue
        survivor = worker
        break

    assert survivor is not None, f"never dead-lettered after {len(deaths)} restarts"
    assert [code for _, code in deaths] == [-signal.SIGKILL] * 3
    dead_pids = [pid for pid, _ in deaths]
    assert ints(sync_r, "proc:suicides") == dead_pids

    assert sync_r.zscore("arq:dead", job.job_id) is not None
    dead = sync_r.hgetall(f"arq:dead:{job.job_id}")
    assert dead[b"tries"] == b"3"
    assert dead[b"queue"] == b"arq:queue"
    assert job_deserializer(dead[b"payload"])["f"] == "suicide"
    history = json.loads(dead[b"history"])
    assert len(history) == 3
    for entry, pid in zip(history, dead_pids, strict=True):  # one delivery per dead worker, in order
        assert f"-{pid}-" in entry and "@" in entry, history
    assert sync_r.zscore("arq:queue", job.job_id) is None
    leftovers = [f"arq:{kind}:{job.job_id}" for kind in ("job", "retry")]
    assert not sync_r.exists(*leftovers)
    assert not sync_r.hexists("arq:deliveries", job.job_id)

    with pytest.raises(MaxTriesExceeded, match="dead-lettered"):
        await job.result(timeout=5)
    ok = await client.enqueue("noop", "after")
    assert ok is not None and await ok.result(timeout=15) == "after"  # the survivor keeps working


# -- 6. Redis goes away and comes back ---------------------------------------------------------------


@pytest.mark.timeout(90)
async def test_worker_survives_a_redis_restart(tmp_path: Path, spawn: Spawn, transport: str) -> None:
    """On both hot-path transports (``transport``): the scripts are reloaded after the restart too."""
    port = free_port()
    servers = [RedisServer(port=port, persist=True, data_dir=tmp_path).start()]
    url = servers[0].url
    try:
        worker = await spawn("OutageSettings", url).ready()  # lease_s = 10
        async with Client(url) as c1:
            before = [await c1.enqueue("mark", i) for i in range(10)]
            for job in before:
                assert job is not None and (await job.result(timeout=15))["i"] is not None
            deferred = [await c1.enqueue("mark", i, _defer_by=3) for i in range(10, 20)]
            napper = await c1.enqueue("nap", 1.5)  # still running when Redis goes down
            assert napper is not None
            deadline = time.monotonic() + 10
            while await napper.status() != JobStatus.in_progress:
                assert time.monotonic() < deadline, "the nap job never started"
                await asyncio.sleep(0.02)

        servers[0].stop(save=True)
        down_at = time.monotonic()
        await asyncio.sleep(2.0)
        assert worker.alive(), worker.log
        servers.append(RedisServer(port=port, persist=True, data_dir=tmp_path).start())
        print(f"\nRedis was down for {time.monotonic() - down_at:.2f}s")

        async with Client(url) as c2:
            after = [await c2.enqueue("mark", i) for i in range(20, 30)]
            marks = [c2.job(j.job_id) for j in [*before, *deferred, *after] if j is not None]
            assert len(marks) == 30
            results = [await j.result(timeout=30) for j in marks]
            assert [r["i"] for r in results] == list(range(30))
            assert {r["pid"] for r in results} == {worker.pid}
            nap = await c2.job(napper.job_id).wait(timeout=30)
            assert nap.success and nap.result == {"pid": worker.pid, "try": 1}, "its first attempt's outcome"
            raw_marks = await c2.redis.lrange("proc:marks", 0, -1)
            ran = sorted(int(m.decode().split(":")[0]) for m in raw_marks)
            assert ran == list(range(30)), "each job ran exactly once"

        assert worker.alive(), worker.log
        assert re.search(r"WARNING .*claiming jobs failed.*: lost Redis", worker.log), worker.log
        assert "claiming jobs: Redis accepts commands again" in worker.log
    finally:
        for server in servers:
            server.stop()


@pytest.mark.timeout(30)
async def test_backoff_holds_while_a_nudge_is_pending() -> None:
    """In-process companion of the restart test (white-box: it counts claims and sets the nudge).

    A nudge left pending (a due retry, during a busy stretch) when Redis goes away used to cut every
    backoff sleep short: thousands of reconnect attempts a second, a core at 100 %.
    """

    async def noop(ctx: dict[str, Any]) -> None:
        return None

    with RedisServer() as server:
        worker = Worker([noop], redis_settings=server.url, handle_signals=False)
        runner = asyncio.create_task(worker.async_run())
        try:
            await eventually(lambda: worker._ops is not None, "the worker to connect")
            await asyncio.sleep(0.2)
            assert worker._ops is not None
            claim, attempts = worker._ops.claim, 0

            async def counting(*args: Any, **kwargs: Any) -> Any:
                nonlocal attempts
                attempts += 1
                return await claim(*args, **kwargs)

            worker._ops.claim = counting  # type: ignore[method-assign]
            server.stop()
            worker._nudge.set()
            await asyncio.sleep(1.5)
            print(f"\nclaim attempts during 1.5 s without Redis: {attempts}")
            assert 1 <= attempts < 30
        finally:
            worker.request_stop(force=True)
            stop_requested = time.monotonic()
            await asyncio.wait_for(runner, 10)
            assert time.monotonic() - stop_requested < 2, "a stop must cut the backoff short"
            await worker.close()


# -- 7. unknown task and corrupt payload --------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_unknown_task_and_corrupt_payload_fail_only_their_job(
    client: Client, redis_url: str, sync_r: sync_redis.Redis, spawn: Spawn
) -> None:
    worker = await spawn("BasicSettings", redis_url).ready()

    unknown = await client.enqueue("no_such_task", 1)
    assert unknown is not None
    with pytest.raises(UnknownTaskError, match="no_such_task"):
        await unknown.result(timeout=15)

    sync_r.set("arq:job:corrupt-1", b"\xff\xfe{not json")
    sync_r.zadd("arq:queue", {"corrupt-1": now_ms()})
    info = await client.job("corrupt-1").wait(timeout=15)
    assert not info.success
    assert isinstance(info.result, SerializationError), repr(info.result)
    assert "corrupt-1" in str(info.result)
    await worker.wait_log("corrupt payload", timeout=5)  # the reader thread may lag the result

    normal = await client.enqueue("noop", 42)
    assert normal is not None
    assert await normal.result(timeout=15) == 42
    assert worker.alive()
    assert sync_r.zcard("arq:queue") == 0
