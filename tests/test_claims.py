"""Claim and finish bookkeeping: what a delivery writes, what every way out removes, and how much
Redis work a job costs (one Redis core serves a whole fleet, so the per-job work is bounded here)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Client, task
from aqueue._clock import now_ms
from aqueue._worker.queue_ops import QueueOps
from aqueue._worker.types import Outcome, OutcomeKind
from tests.support import eventually


@task
async def noop(ctx: dict[str, Any]) -> None:
    return None


def leftovers(sync_r: sync_redis.Redis) -> list[bytes]:
    """Return the per-job bookkeeping keys left in Redis (job keys and results excluded)."""
    patterns = ("arq:in-progress:*", "arq:retry:*", "arq:deliveries*", "arq:wake:*")
    return sorted(key for pattern in patterns for key in sync_r.scan_iter(pattern))


def ops(client: Client, worker: str = "w1", lease_ms: int = 5000) -> QueueOps:
    return QueueOps(client.scripts, client.keys, client.default_queue, worker, lease_ms)


def history_of(sync_r: sync_redis.Redis, job_id: str) -> tuple[str, list[str]]:
    """Return a job's deliveries field: its newest try, and the workers of its entries."""
    tries, *entries = sync_r.hget("arq:deliveries", job_id).decode().split()  # type: ignore[union-attr]
    return tries, [entry.partition("@")[0] for entry in entries]


async def test_a_delivery_counts_a_try_takes_the_claim_and_records_the_history(
    client: Client, sync_r: sync_redis.Redis
) -> None:
    job = await client.enqueue("noop")
    assert job is not None
    before = now_ms()
    jobs, _ = await ops(client).claim(10, register_idle=False, max_deliveries=5)
    assert [j.job_id for j in jobs] == [job.job_id]
    assert sync_r.get(f"arq:retry:{job.job_id}") is None  # a first try writes no counter
    assert sync_r.get(f"arq:in-progress:{job.job_id}") == b"w1:1"
    assert 0 < sync_r.pttl(f"arq:in-progress:{job.job_id}") <= 5000
    tries, entry = sync_r.hget("arq:deliveries", job.job_id).decode().split()  # type: ignore[union-attr]
    worker, _, at = entry.partition("@")
    assert tries == "1" and worker == "w1" and before <= int(at) <= now_ms()
    assert before + 5000 <= sync_r.zscore(client.default_queue, job.job_id) <= now_ms() + 5000  # type: ignore[operator]


async def test_every_way_out_removes_the_bookkeeping(
    client: Client, run_worker: Any, sync_r: sync_redis.Redis
) -> None:
    jobs = await client.enqueue_many("noop", [() for _ in range(50)])
    async with run_worker([noop], max_jobs=20) as worker:
        for job in jobs:
            assert job is not None
            await job.result(timeout=10)
        await eventually(lambda: worker.jobs_complete == 50, "the worker to count them")
    assert leftovers(sync_r) == []
    assert sync_r.exists(*(f"arq:job:{j.job_id}" for j in jobs if j)) == 0


async def test_a_retry_outcome_resets_the_history_but_keeps_the_try_count(
    client: Client, sync_r: sync_redis.Redis
) -> None:
    job = await client.enqueue("noop")
    assert job is not None
    worker = ops(client)
    [claimed], _ = await worker.claim(10, register_idle=False, max_deliveries=5)
    assert await worker.finish([Outcome(claimed, OutcomeKind.RETRY, retry_score=now_ms())]) == [True]
    assert not sync_r.exists(f"arq:in-progress:{job.job_id}")
    assert not sync_r.hexists("arq:deliveries", job.job_id)
    [again], _ = await worker.claim(10, register_idle=False, max_deliveries=1)  # not dead: it had an outcome
    assert again.job_try == 2 and again.token == "w1:2"
    assert sync_r.ttl(f"arq:retry:{job.job_id}") > 0  # a second try gives the counter arq's expiry
    assert await worker.finish([Outcome(again, OutcomeKind.OK, result=b"r", ttl_ms=60_000)]) == [True]
    assert leftovers(sync_r) == []


async def test_deliveries_without_an_outcome_are_counted_until_the_job_is_dead_lettered(
    client: Client, sync_r: sync_redis.Redis
) -> None:
    job = await client.enqueue("noop")
    assert job is not None
    for n in range(1, 3):  # two workers that die holding the job (leases of 50 ms)
        [claimed], _ = await ops(client, f"w{n}", lease_ms=50).claim(
            10, register_idle=False, max_deliveries=2
        )
        assert claimed.job_try == n
        await asyncio.sleep(0.1)
    assert history_of(sync_r, job.job_id) == ("2", ["w1", "w2"])
    assert sync_r.get(f"arq:retry:{job.job_id}") == b"2"  # from the second try on, counted as arq counts
    jobs, _ = await ops(client, "w3").claim(10, register_idle=False, max_deliveries=2)
    assert jobs == []
    dead = sync_r.hgetall(f"arq:dead:{job.job_id}")
    assert dead[b"tries"] == b"2"
    assert [entry.partition("@")[0] for entry in json.loads(dead[b"history"])] == ["w1", "w2"]
    assert leftovers(sync_r) == []


async def test_a_job_another_claim_holds_is_left_alone_and_looked_at_when_that_claim_lapses(
    client: Client, sync_r: sync_redis.Redis
) -> None:
    job = await client.enqueue("noop")
    assert job is not None
    sync_r.set(f"arq:in-progress:{job.job_id}", b"1", px=2000)  # a plain arq worker runs it
    sync_r.set(f"arq:retry:{job.job_id}", 1)
    jobs, _ = await ops(client).claim(10, register_idle=False, max_deliveries=5)
    assert jobs == []
    assert sync_r.get(f"arq:in-progress:{job.job_id}") == b"1"
    assert sync_r.get(f"arq:retry:{job.job_id}") == b"1"  # no try counted for a delivery that did not happen
    assert not sync_r.hexists("arq:deliveries", job.job_id)
    score = sync_r.zscore(client.default_queue, job.job_id)
    assert score is not None and now_ms() + 1000 < score <= now_ms() + 2000


async def test_a_handed_back_job_keeps_no_trace_of_the_interrupted_delivery(
    client: Client, sync_r: sync_redis.Redis
) -> None:
    job = await client.enqueue("noop")
    assert job is not None
    worker = ops(client)
    [claimed], _ = await worker.claim(10, register_idle=False, max_deliveries=5)
    assert await worker.release([(claimed.job_id, claimed.token)]) == 1
    assert sync_r.get(f"arq:retry:{job.job_id}") is None
    assert not sync_r.hexists("arq:deliveries", job.job_id)
    assert not sync_r.exists(f"arq:in-progress:{job.job_id}")
    # a second try handed back leaves the count where the first try (whose worker died) left it
    await ops(client, "w1", lease_ms=50).claim(10, register_idle=False, max_deliveries=5)
    await asyncio.sleep(0.1)
    other = ops(client, "w2")
    [second], _ = await other.claim(10, register_idle=False, max_deliveries=5)
    assert second.job_try == 2 and sync_r.get(f"arq:retry:{job.job_id}") == b"2"
    assert await other.release([(second.job_id, second.token)]) == 1
    assert sync_r.get(f"arq:retry:{job.job_id}") == b"1"
    assert history_of(sync_r, job.job_id) == ("1", ["w1"])
    [again], _ = await other.claim(10, register_idle=False, max_deliveries=5)
    assert again.job_try == 2


async def test_a_history_without_its_try_is_read_with_the_counter(
    client: Client, sync_r: sync_redis.Redis
) -> None:
    """Fields written before the history recorded its newest try (entries only) count by the counter."""
    job = await client.enqueue("noop")
    assert job is not None
    sync_r.set(f"arq:retry:{job.job_id}", 2)
    sync_r.hset("arq:deliveries", job.job_id, "w0@0 w1@1")
    [claimed], _ = await ops(client).claim(10, register_idle=False, max_deliveries=5)
    assert claimed.job_try == 3
    assert history_of(sync_r, job.job_id) == ("3", ["w0", "w1", "w1"])


async def test_redis_work_per_job_stays_bounded(
    client: Client, run_worker: Any, sync_r: sync_redis.Redis
) -> None:
    """Commands per job across enqueue (batched), claim and finish; batched calls count once."""
    await client.enqueue_many("noop", [() for _ in range(300)])
    sync_r.config_resetstat()
    async with run_worker([noop], max_jobs=100, burst=True) as worker:
        await eventually(lambda: worker.jobs_complete == 300, "the drain", timeout=20)
    stats = sync_r.info("commandstats")
    per_job = {name.removeprefix("cmdstat_"): s["calls"] / 300 for name, s in stats.items()}
    for name in ("evalsha", "info", "config", "hset", "zcard", "psetex", "pexpire", "ping", "client"):
        per_job.pop(name, None)  # the scripts themselves, the heartbeat and the test's own calls
    # claim: SET retry NX, SET in-progress NX; finish: SET result (3); the rest per batch. Nobody
    # waits for these results, so none is announced (PUBLISH done:ID).
    assert "publish" not in per_job, per_job
    assert sum(per_job.values()) <= 4.0, per_job


async def test_results_are_announced_while_a_client_waits(
    client: Client, run_worker: Any, sync_r: sync_redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A waiter sets the listening flag before it subscribes: its result comes by PUBLISH, not a re-read."""
    monkeypatch.setattr("aqueue.jobs.RECHECK_START_S", 30.0)  # only the announcement can wake it in time
    async with run_worker([noop], max_jobs=10):
        jobs = await client.enqueue_many("noop", [() for _ in range(5)], _defer_by=0.3)
        sync_r.config_resetstat()
        started = time.monotonic()
        await asyncio.gather(*(j.result(timeout=10) for j in jobs))
        assert time.monotonic() - started < 5
    assert int(sync_r.info("commandstats")["cmdstat_publish"]["calls"]) >= 5
    assert 0 < sync_r.pttl("arq:listening") <= 60_000
