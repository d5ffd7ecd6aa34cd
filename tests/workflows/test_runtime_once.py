"""Continuations release each dependent exactly once: racing workers, duplicated and stale finishes.

The first tests race three in-process workers on fan-ins whose parents end at the same instant.
The others drive the worker-side finish (:class:`WorkflowContinuations`) by hand, as a worker
would, and deliver a parent's completion twice: the same outcome again, a stale worker's outcome
after its lease lapsed and another worker re-claimed the node, and a forged claim on a node that
is already done. None may release a dependent twice (or early).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import Any

import pytest

from aqueue import Client
from aqueue._clock import now_ms
from aqueue._envelope import JobEnvelope
from aqueue._worker.queue_ops import QueueOps
from aqueue._worker.types import ClaimedJob, Outcome, OutcomeKind
from aqueue.extensions import WorkerContext
from aqueue.workflows import Dag, WorkflowRun, chord, si, sig
from aqueue.workflows._continuation import WorkflowContinuations
from tests.wf_tasks import ALL, CALLS

pytestmark = pytest.mark.timeout(60)


async def call_ids(client: Client, name: str) -> Counter[str]:
    """Return how many times each job id called task ``name``."""
    return Counter(x.decode() for x in await client.redis.lrange(CALLS + name, 0, -1))  # type: ignore[misc]


async def ran_by(client: Client) -> dict[str, str]:
    """Return which worker ran each ``at`` job."""
    raw = await client.redis.lrange("wft:at-by", 0, -1)  # type: ignore[misc]
    return dict(x.decode().split(" ") for x in raw)


def diamond(when_ms: int, n: int) -> Any:
    dag = Dag()
    a = dag.add(sig("add", n, 0))
    parents = [dag.add(si("at", name, when_ms), after=a) for name in "bce"]
    dag.add(sig("join", f"d{n}"), after=parents)
    return dag.build()


async def test_racing_workers_release_fan_ins_once(client: Client, run_worker: Any) -> None:
    """Three workers of one slot each: every fan-in's three parents run on three different workers
    and end at the same wall-clock ms, so their completions race in three separate Lua calls."""
    rounds = 5
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(run_worker(ALL, max_jobs=1))
        results = []
        for n in range(rounds):
            when = now_ms() + 250
            handle = await client.run(
                chord([si("at", f"m{i}", when) for i in range(3)], sig("join", f"c{n}"))
            )
            results.append(await handle.result(timeout=10))
            assert time.time() * 1000 >= when
            when = now_ms() + 250
            handle = await client.run(diamond(when, n))
            results.append(await handle.result(timeout=10))
    expected = [[[f"c{n}", ["m0", "m1", "m2"]], [f"d{n}", ["b", "c", "e"]]] for n in range(rounds)]
    assert results == [r for pair in expected for r in pair]
    join_calls, at_calls = await call_ids(client, "join"), await call_ids(client, "at")
    assert len(join_calls) == 2 * rounds and set(join_calls.values()) == {1}
    assert len(at_calls) == 3 * 2 * rounds and set(at_calls.values()) == {1}
    workers_of: dict[str, set[str]] = {}
    for job_id, worker_id in (await ran_by(client)).items():
        workers_of.setdefault(job_id.rpartition(":")[0], set()).add(worker_id)
    assert [len(w) for w in workers_of.values()] == [3] * 2 * rounds  # a real three-way race each time


async def test_racing_workers_many_runs_at_once(client: Client, run_worker: Any) -> None:
    """Three workers; 10 chords and 10 diamonds started together, parents ending together."""
    when = now_ms() + 1000
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(run_worker(ALL, max_jobs=40))
        chords = [
            await client.run(chord([si("at", f"m{i}", when) for i in range(6)], sig("join", f"c{n}")))
            for n in range(10)
        ]
        diamonds = [await client.run(diamond(when, n)) for n in range(10)]
        results = await asyncio.gather(*(h.result(timeout=30) for h in chords + diamonds))
    assert results[:10] == [[f"c{n}", [f"m{i}" for i in range(6)]] for n in range(10)]
    assert results[10:] == [[f"d{n}", ["b", "c", "e"]] for n in range(10)]
    join_calls, at_calls = await call_ids(client, "join"), await call_ids(client, "at")
    assert len(join_calls) == 20 and set(join_calls.values()) == {1}
    assert len(at_calls) == 10 * 6 + 10 * 3 and set(at_calls.values()) == {1}


async def test_racing_workers_numeric_chord(client: Client, run_worker: Any) -> None:
    """A chord of 30 members on three workers, all ending together: one callback, right sum."""
    when = now_ms() + 1000
    members = [sig("add", i, 0) | si("at", f"m{i}", when) | si("add", i, i) for i in range(30)]
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(run_worker(ALL, max_jobs=10))
        handle = await client.run(chord(members, sig("xsum")))
        assert await handle.result(timeout=30) == sum(2 * i for i in range(30))
    xsum_calls = await call_ids(client, "xsum")
    assert list(xsum_calls.values()) == [1]


# -- duplicate and stale completions, driven by hand ---------------------------------------------


class FakeWorker:
    """Claims and finishes workflow jobs the way a worker does, without running any task."""

    def __init__(self, client: Client, name: str, lease_ms: int = 30_000) -> None:
        self.ops = QueueOps(client.scripts, client.keys, client.default_queue, name, lease_ms)
        self.continuations = WorkflowContinuations()
        self.continuations.bind(
            WorkerContext(
                redis=client.redis,
                scripts=client.scripts,
                keys=client.keys,
                queue=client.default_queue,
                worker_id=name,
                lease_ms=lease_ms,
                ops=self.ops,
                serializer=client.job_serializer,
                deserializer=client.job_deserializer,
                start=lambda job: None,
            )
        )
        self.direct: dict[str, ClaimedJob] = {}

    async def claim(self, limit: int = 10) -> dict[str, ClaimedJob]:
        jobs, _ = await self.ops.claim(limit, register_idle=False, max_deliveries=0)
        return {job.job_id: job for job in jobs}

    async def finish(self, job: ClaimedJob, value: Any, capacity: int = 0) -> tuple[bool, list[str]]:
        """Record ``value`` as ``job``'s result; return (recorded, ids of jobs claimed for us)."""
        envelope = JobEnvelope("node", (), {}, now_ms(), extra={"wf": 1})
        outcome = Outcome(job, OutcomeKind.OK, value, envelope, started_ms=now_ms())
        flags, claimed = await self.continuations.finish([self.continuations.seal(outcome)], capacity)
        self.direct = {c.job_id: c for c in claimed}
        return flags[0], list(self.direct)


async def queued(client: Client) -> list[str]:
    ids = await client.redis.zrange(client.default_queue, 0, -1)
    return sorted(x.decode() for x in ids)


async def pending(client: Client, run: WorkflowRun) -> dict[str, int]:
    raw = await client.redis.hgetall(run.key(":pending"))  # type: ignore[misc]
    return {k.decode(): int(v) for k, v in raw.items()}


def fan_in() -> Any:
    dag = Dag()
    a = dag.add(sig("add", 1, 1))
    b = dag.add(sig("inc"), after=a)
    c = dag.add(sig("inc"), after=a)
    dag.add(sig("xsum", [100]), after=[b, c])
    return dag.build()


async def test_same_outcome_twice_releases_once(client: Client) -> None:
    run = await client.run(fan_in())
    w1 = FakeWorker(client, "w1")
    a = (await w1.claim())[f"{run.run_id}:0"]
    assert await w1.finish(a, 2) == (True, [])
    assert await queued(client) == [f"{run.run_id}:1", f"{run.run_id}:2"]
    assert await w1.finish(a, 2) == (False, [])  # fenced: the claim is gone
    assert await w1.finish(a, 2, capacity=5) == (False, [])
    assert await queued(client) == [f"{run.run_id}:1", f"{run.run_id}:2"]
    assert await pending(client, run) == {"1": 0, "2": 0, "3": 2}
    assert (await client.redis.hget(run.key(), "done")) == b"1"


async def test_stale_worker_after_reclaim_is_fenced(client: Client) -> None:
    """w1's lease lapses, w2 re-claims node 1 and finishes it; w1's late outcome is discarded."""
    run = await client.run(fan_in())
    w1, w2 = FakeWorker(client, "w1", lease_ms=200), FakeWorker(client, "w2")
    a = (await w1.claim())[f"{run.run_id}:0"]
    assert (await w1.finish(a, 2))[0]
    stale = await w1.claim()
    assert sorted(stale) == [f"{run.run_id}:1", f"{run.run_id}:2"]
    await asyncio.sleep(0.3)  # w1's leases lapse: the jobs are due again
    fresh = await w2.claim()
    assert sorted(fresh) == sorted(stale) and {j.job_try for j in fresh.values()} == {2}
    b_id, c_id = f"{run.run_id}:1", f"{run.run_id}:2"
    assert await w1.finish(stale[b_id], 1000) == (False, [])  # stale token: fenced
    assert await w2.finish(fresh[b_id], 3) == (True, [])
    assert await w2.finish(fresh[b_id], 3) == (False, [])  # replay: fenced
    assert await pending(client, run) == {"1": 0, "2": 0, "3": 1}
    assert await queued(client) == [c_id]  # c still claimed by w2; d not released
    assert await w1.finish(stale[c_id], 1000) == (False, [])
    # the last parent releases d, claimed directly for w2 (capacity 1)
    assert await w2.finish(fresh[c_id], 3, capacity=1) == (True, [f"{run.run_id}:3"])
    d = w2.direct[f"{run.run_id}:3"]
    assert await w2.finish(fresh[c_id], 3, capacity=1) == (False, [])
    assert await pending(client, run) == {"1": 0, "2": 0, "3": 0}
    assert await w2.claim() == {}  # d is held by w2's direct claim, not due for anyone
    status = await run.status()
    assert [n.state for n in status.nodes] == ["done", "done", "done", "running"]
    assert await w2.finish(d, 106) == (True, [])
    assert await w1.finish(d, 0) == (False, [])
    assert await run.result(timeout=5) == 106
    assert [n.state for n in (await run.status()).nodes] == ["done"] * 4


async def test_forged_second_completion_of_a_done_node_is_ignored(client: Client, run_worker: Any) -> None:
    """A node that is already done finishes again under a claim that looks valid: nothing moves."""
    run = await client.run(fan_in())
    w1 = FakeWorker(client, "w1")
    a = (await w1.claim())[f"{run.run_id}:0"]
    assert (await w1.finish(a, 2))[0]
    jobs = await w1.claim()
    b = jobs[f"{run.run_id}:1"]
    assert (await w1.finish(b, 3))[0]
    assert await pending(client, run) == {"1": 0, "2": 0, "3": 1}
    # a zombie delivery of b: its claim key holds the zombie's token, so the fence lets it through
    zombie = ClaimedJob(b.job_id, b"", 0, 9, False, "zombie:9")
    await client.redis.set(client.keys.in_progress(b.job_id), zombie.token)
    assert await w1.finish(zombie, 999) == (True, [])
    assert await pending(client, run) == {"1": 0, "2": 0, "3": 1}  # d still waits for c
    assert await queued(client) == [f"{run.run_id}:2"]
    assert await client.redis.hget(run.key(":results"), "1") == b"3"  # the first result stands
    assert await client.redis.hget(run.key(), "done") == b"2"
    # the rest runs on a real worker: d sees b's first result and c's
    async with run_worker(ALL, max_jobs=5):
        assert (await w1.finish(jobs[f"{run.run_id}:2"], 3))[0]
        assert await run.result(timeout=10) == 3 + 3 + 100
    assert list((await call_ids(client, "xsum")).values()) == [1]
