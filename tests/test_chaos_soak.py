"""Chaos soak: three worker processes and a producer on a persistent Redis while things break.

The broker is a ``redis-server`` with AOF and ``appendfsync always``. While a producer enqueues
``N_JOBS`` jobs at ``RATE`` a second, the soak kill -9s a worker (and starts a new one), freezes
another with SIGSTOP for longer than its lease (then SIGCONT), kill -9s Redis and restarts it on the
same files, and kill -9s a third worker. Every attempt writes its start and end to a second Redis that
is never touched (the side channel), so executions can be counted per job.

What must hold: every job completes with the right result (nothing lost, nothing dead-lettered);
a job runs more than once only because an attempt was already running when its worker was killed or
frozen (an attempt started by a frozen worker after it resumed, on a claim that lapsed meanwhile,
is a failure); and the recorded result is the latest attempt's (a resumed worker records nothing
stale). The test prints lost jobs, duplicate executions and the drain time.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pytest
import redis as sync_redis

from aqueue import Client, RedisFailure
from aqueue.embedded import RedisServer
from tests.conftest import aqueue_cli
from tests.soak_tasks import ENDS, SIDE_ENV, STARTS, SoakSettings
from tests.support import LoggedProcess, eventually

N_JOBS = 2000
RATE = 100.0  # jobs a second: the producer runs for about N_JOBS / RATE seconds
LEASE_S = SoakSettings.lease_s
SETTINGS = "tests.soak_tasks.SoakSettings"
DRAIN_TIMEOUT_S = 45.0


class Attempt(NamedTuple):
    """One start (or end) record from the side channel."""

    job_id: str
    job_try: int
    pid: int
    at: float


class Fault(NamedTuple):
    """A worker process killed or frozen at ``at`` (``time.time()``)."""

    kind: str
    pid: int
    at: float


@dataclass
class Fleet:
    """The broker, the side channel and the worker processes; every fault it makes is recorded."""

    broker: RedisServer
    side: RedisServer
    workers: list[LoggedProcess] = field(default_factory=list)
    retired: list[LoggedProcess] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def kill(self, child: LoggedProcess) -> None:
        """SIGKILL a worker; it is retired. The fault's time is taken once it is dead."""
        child.kill()
        self.faults.append(Fault("kill", child.pid, time.time()))
        self.workers.remove(child)
        self.retired.append(child)

    async def freeze(self, child: LoggedProcess) -> None:
        """SIGSTOP a worker. The fault's time is taken once the kernel shows it stopped.

        A signal takes effect a moment after it is sent: an attempt that starts in that moment was
        running when the worker froze, so the time must not be read before.
        """
        child.proc.send_signal(signal.SIGSTOP)
        await eventually(lambda: stopped(child.pid), f"pid {child.pid} to stop", timeout=5, interval=0.001)
        self.faults.append(Fault("stop", child.pid, time.time()))

    def restart_broker(self) -> float:
        """SIGKILL the broker and start it again on its AOF; return how long it was away."""
        assert self.broker.process is not None
        began = time.monotonic()
        self.broker.process.kill()
        self.broker.process.wait(10)
        self.broker.start()
        return time.monotonic() - began

    def close(self) -> None:
        for child in [*self.workers, *self.retired]:
            child.kill()


def stopped(pid: int) -> bool:
    """Return whether the process is stopped (state T in /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] in "Tt"


def start_worker(fleet: Fleet) -> LoggedProcess:
    """Start a worker process that writes to the side channel."""
    proc = aqueue_cli("worker", SETTINGS, redis_url=fleet.broker.url)
    child = LoggedProcess(proc, f"worker-{len(fleet.workers) + len(fleet.retired)} (pid {proc.pid})")
    fleet.workers.append(child)
    return child


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    aof = ("--appendonly", "yes", "--appendfsync", "always")
    with RedisServer(extra_args=aof) as broker, RedisServer() as side:
        monkeypatch.setenv(SIDE_ENV, side.url)  # aqueue_cli passes the environment on to the workers
        running = Fleet(broker, side)
        try:
            yield running
        finally:
            running.close()


@pytest.fixture
async def producer(fleet: Fleet) -> AsyncIterator[Client]:
    async with Client(fleet.broker.url) as client:
        yield client


def job_id(i: int) -> str:
    return f"soak-{i}"


async def produce(client: Client, errors: Counter[str]) -> float:
    """Enqueue every job at RATE a second; an enqueue that still fails is sent again (same id).

    Returns when the last one was acknowledged (``time.monotonic()``).
    """
    began = time.monotonic()
    for i in range(N_JOBS):
        delay = began + i / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        while True:
            try:
                await client.enqueue("soak", i, _job_id=job_id(i))
                break
            except RedisFailure as e:
                errors[type(e).__name__] += 1
                await asyncio.sleep(0.1)
    return time.monotonic()


async def make_chaos(fleet: Fleet, log: list[str]) -> None:
    """Kill a worker, freeze one past its lease, restart Redis, kill another: about 20 s in all."""
    await asyncio.sleep(3)
    fleet.kill(fleet.workers[0])
    log.append("kill -9 worker")
    await asyncio.sleep(1)
    await start_worker(fleet).ready()
    await asyncio.sleep(2)
    frozen = fleet.workers[0]
    await fleet.freeze(frozen)
    await asyncio.sleep(LEASE_S * 2.5)
    frozen.proc.send_signal(signal.SIGCONT)
    log.append(f"SIGSTOP worker for {LEASE_S * 2.5:.0f} s")
    await asyncio.sleep(2)
    away = fleet.restart_broker()
    log.append(f"kill -9 Redis, back after {away:.2f} s")
    await asyncio.sleep(3)
    fleet.kill(fleet.workers[-1])
    log.append("kill -9 worker")
    await asyncio.sleep(1)
    await start_worker(fleet).ready()


def attempts(side: sync_redis.Redis, key: str) -> list[Attempt]:
    rows = [raw.decode().split() for raw in side.lrange(key, 0, -1)]
    return [Attempt(job, int(job_try), int(pid), float(at)) for job, job_try, pid, at in rows]


def missing(broker: sync_redis.Redis) -> list[str]:
    """Return the ids of jobs that have no result yet."""
    with broker.pipeline(transaction=False) as pipe:
        for i in range(N_JOBS):
            pipe.exists(f"arq:result:{job_id(i)}")
        found = pipe.execute()
    return [job_id(i) for i, there in enumerate(found) if not there]


#: How long after a task returns its outcome may still be unrecorded (the finisher batches outcomes
#: into one script call; on a loaded machine that call can take a while): a kill in that gap means
#: the attempt was still running as far as Redis knows, so the job runs again.
RECORD_GRACE_S = 2.0


def interrupted(
    attempt: Attempt, rerun_at: float, ended: dict[tuple[str, int, int], float], faults: list[Fault]
) -> bool:
    """Return whether ``attempt`` was running when its process was killed or frozen, before the job ran again.

    Running means: started, and its outcome possibly not yet recorded (up to RECORD_GRACE_S after the
    task returned); the fault must also come before the next attempt started (at ``rerun_at``).
    """
    end = ended.get((attempt.job_id, attempt.job_try, attempt.pid), float("inf")) + RECORD_GRACE_S
    return any(f.pid == attempt.pid and attempt.at < f.at < min(end, rerun_at) for f in faults)


def unexplained(starts: list[Attempt], ends: list[Attempt], faults: list[Fault]) -> dict[str, list[Attempt]]:
    """Return the jobs run again after an attempt that no fault interrupted."""
    ended = {(a.job_id, a.job_try, a.pid): a.at for a in ends}
    by_job: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in sorted(starts, key=lambda a: a.at):
        by_job[attempt.job_id].append(attempt)
    return {
        job: runs
        for job, runs in by_job.items()
        if not all(interrupted(a, b.at, ended, faults) for a, b in itertools.pairwise(runs))
    }


def unexplained_report(excess: dict[str, list[Attempt]], ends: list[Attempt], fleet: Fleet) -> str:
    """Say, for a failure, each unexplained job's attempts with their ends, the faults, the warnings."""
    ended = {(a.job_id, a.job_try, a.pid): a.at for a in ends}
    shown = {job: [(a, ended.get(a[:3])) for a in runs] for job, runs in excess.items()}
    pids = {a.pid for runs in excess.values() for a in runs}
    children = [c for c in [*fleet.workers, *fleet.retired] if c.pid in pids]
    warnings = [f"{c.pid}: {line.strip()}" for c in children for line in c.lines if "WARNING" in line]
    return f"duplicates no fault explains (attempt, its end): {shown}; faults {fleet.faults}; {warnings}"


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_chaos_soak(fleet: Fleet, producer: Client) -> None:
    for _ in range(3):
        start_worker(fleet)
    for child in fleet.workers:
        await child.ready()
    errors: Counter[str] = Counter()
    log: list[str] = []
    began = time.monotonic()
    produced, _ = await asyncio.gather(produce(producer, errors), make_chaos(fleet, log))
    broker = sync_redis.Redis.from_url(fleet.broker.url)
    side = sync_redis.Redis.from_url(fleet.side.url)
    try:
        left = await eventually(
            lambda: not missing(broker), "every job to complete", timeout=DRAIN_TIMEOUT_S, interval=0.1
        )
        drained = time.monotonic()
        assert left
        infos = [await producer.job(job_id(i)).result_info() for i in range(N_JOBS)]
        starts, ends = attempts(side, STARTS), attempts(side, ENDS)
        dead = broker.zcard("arq:dead")
    finally:
        broker.close()
        side.close()

    runs = Counter(a.job_id for a in starts)
    latest = {a.job_id: a for a in sorted(starts, key=lambda a: a.job_try)}
    duplicates = sum(n - 1 for n in runs.values())
    lost = [job_id(i) for i, info in enumerate(infos) if info is None or not info.success]
    wrong = [job_id(i) for i, info in enumerate(infos) if info is not None and info.result["v"] != 2 * i]
    stale = [
        job_id(i)
        for i, info in enumerate(infos)
        if info is not None
        and (info.result["try"], info.result["pid"]) != (latest[job_id(i)].job_try, latest[job_id(i)].pid)
    ]
    excess = unexplained(starts, ends, fleet.faults)
    resumed = [c for c in fleet.workers if any(f.kind == "stop" and f.pid == c.pid for f in fleet.faults)]
    dropped = sum(c.log.count("claims lapsed before they could start") for c in resumed)
    print(
        f"\nchaos soak: {N_JOBS} jobs, {'; '.join(log)}; lost {len(lost)}, dead-lettered {dead}, "
        f"executions {len(starts)} ({duplicates} duplicate, {sum(len(r) for r in excess.values())} "
        f"in {len(excess)} jobs unexplained), stale records {len(stale)}, late batches dropped by the "
        f"resumed worker {dropped}, enqueue errors {dict(errors)}, drain {drained - produced:.2f} s "
        f"after the last enqueue ({drained - began:.1f} s in all)"
    )
    assert not lost, f"jobs without a successful result: {lost[:10]}"
    assert dead == 0
    assert not wrong, f"wrong results: {wrong[:10]}"
    assert set(runs) == {job_id(i) for i in range(N_JOBS)}
    assert not stale, f"results recorded by an attempt that was not the latest: {stale[:10]}"
    assert not excess, unexplained_report(excess, ends, fleet)
