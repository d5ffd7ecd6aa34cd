"""Unique keys: ``_unique`` deduplicates, ``_unique_for`` throttles, ``_debounce`` runs once after a
burst; the key is released however its job ends, and many producers at once get one job."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
import redis as sync_redis

from aqueue import Client, ConfigurationError, ReplicationError, Retry
from aqueue._clock import now_ms
from aqueue._redis.core import Claim, ClaimArgs, QueueQuota
from aqueue.dead import requeue_dead
from aqueue.embedded import RedisServer
from tests.conftest import WorkerFactory, run_cli, subprocess_env
from tests.proxy import FreezableProxy, freezable_proxy
from tests.refusals import replicate
from tests.support import eventually

QUEUE = "arq:queue"


def recorder() -> tuple[Any, list[tuple[str, Any]], asyncio.Event]:
    """A task that records (job id, argument) per run, and blocks while ``gate`` is clear."""
    runs: list[tuple[str, Any]] = []
    gate = asyncio.Event()
    gate.set()

    async def record(ctx: dict[str, Any], value: Any) -> Any:
        runs.append((ctx["job_id"], value))
        await gate.wait()
        return value

    return record, runs, gate


def holder(sync_r: sync_redis.Redis, key: str) -> bytes | None:
    value: bytes | None = sync_r.get(f"arq:unique:{key}")
    return value


async def test_a_second_enqueue_with_the_key_gets_the_first_job(
    client: Client, sync_r: sync_redis.Redis
) -> None:
    first = await client.enqueue("record", 1, _unique="report:7")
    again = await client.enqueue("record", 2, _unique="report:7")
    other = await client.enqueue("record", 3, _unique="report:8")
    assert first.deduplicated is False and other.deduplicated is False
    assert again.job_id == first.job_id and again.deduplicated is True
    assert sync_r.zcard(QUEUE) == 2
    assert (await client.job(first.job_id).info() or {})["a"] == [1]  # the first job's arguments stay
    assert holder(sync_r, "report:7") == b"L" + first.job_id.encode()
    job_ttl, key_ttl = sync_r.pttl(f"arq:job:{first.job_id}"), sync_r.pttl("arq:unique:report:7")
    assert abs(key_ttl - job_ttl - 3_600_000) < 1000  # the safety net: an hour past its job's key
    plain = await client.enqueue("record", 4)
    assert plain.deduplicated is False


async def test_a_deferred_job_holds_its_key_and_a_finished_one_releases_it(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    record, runs, _ = recorder()
    first = await client.enqueue("record", 1, _unique="k", _defer_by=0.3)
    assert (await client.enqueue("record", 2, _unique="k")).job_id == first.job_id
    async with run_worker([record]):
        assert await first.result(timeout=5) == 1
        assert holder(sync_r, "k") is None and sync_r.hlen("arq:uniques") == 0
        second = await client.enqueue("record", 3, _unique="k")
        assert second.deduplicated is False and second.job_id != first.job_id
        assert await second.result(timeout=5) == 3
    assert runs == [(first.job_id, 1), (second.job_id, 3)]


async def test_a_running_job_holds_its_key_a_retry_keeps_it_a_failure_releases_it(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    gate, tries = asyncio.Event(), []

    async def flaky(ctx: dict[str, Any]) -> None:
        tries.append(ctx["job_try"])
        if ctx["job_try"] == 1:
            raise Retry(defer=0.3)
        await gate.wait()
        raise ValueError("broken")

    async with run_worker([flaky]):
        job = await client.enqueue("flaky", _unique="k")
        await eventually(lambda: tries, "the first try")
        assert (await client.enqueue("flaky", _unique="k")).job_id == job.job_id  # running, then retrying
        await eventually(lambda: len(tries) == 2, "the retry to run")
        again = await client.enqueue("flaky", _unique="k")
        assert again.job_id == job.job_id and again.deduplicated is True
        gate.set()
        with pytest.raises(ValueError, match="broken"):
            await job.result(timeout=5)
    assert holder(sync_r, "k") is None and sync_r.hlen("arq:uniques") == 0


async def test_an_abort_releases_the_key_waiting_or_running(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    waiting = await client.enqueue("record", 1, _unique="k", _defer_by=60)
    assert await waiting.abort(timeout=0) is True
    assert holder(sync_r, "k") is None and sync_r.hlen("arq:uniques") == 0
    record, _, gate = recorder()
    gate.clear()
    async with run_worker([record], allow_abort_jobs=True):
        running = await client.enqueue("record", 2, _unique="k")
        await eventually(lambda: sync_r.exists(f"arq:in-progress:{running.job_id}"), "the job to run")
        assert await running.abort(timeout=5) is True
    assert holder(sync_r, "k") is None and sync_r.hlen("arq:uniques") == 0


async def test_an_expired_job_frees_its_key_and_its_late_end_leaves_the_new_holder_alone(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    expired = await client.enqueue("record", 1, _unique="k", _expires=0.1)
    await eventually(lambda: not sync_r.exists(f"arq:job:{expired.job_id}"), "the job key to expire")
    fresh = await client.enqueue("record", 2, _unique="k", _defer_by=0.5)
    assert fresh.deduplicated is False and fresh.job_id != expired.job_id
    record, runs, _ = recorder()
    async with run_worker([record]):
        with pytest.raises(Exception, match="expired"):
            await expired.result(timeout=5)
        assert holder(sync_r, "k") == b"L" + fresh.job_id.encode()  # the expired job's end left it
        assert await fresh.result(timeout=5) == 2
    assert runs == [(fresh.job_id, 2)]


async def test_a_dead_letter_releases_the_key_and_a_requeue_takes_it_again(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    job = await client.enqueue("record", 1, _unique="k", _defer_by=0.2)
    sync_r.set(f"arq:retry:{job.job_id}", 3)  # three deliveries whose workers died
    sync_r.hset("arq:deliveries", job.job_id, "w0@0 w1@1 w2@2")
    record, runs, _ = recorder()
    async with run_worker([record], max_deliveries=3):
        await eventually(lambda: sync_r.zscore("arq:dead", job.job_id) is not None, "the dead letter")
    assert holder(sync_r, "k") is None
    # no worker runs now, so the requeued job still waits when the second enqueue comes
    assert await requeue_dead(client) == 1
    assert holder(sync_r, "k") == b"L" + job.job_id.encode()
    assert (await client.enqueue("record", 2, _unique="k")).job_id == job.job_id
    async with run_worker([record]):
        assert await job.result(timeout=5) == 1
    assert runs == [(job.job_id, 1)] and holder(sync_r, "k") is None


async def test_a_dead_workers_job_keeps_its_key_until_it_is_recovered_and_ends(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    job = await client.enqueue("record", 1, _unique="k")
    args = ClaimArgs(client.keys.prefix, now_ms(), 1, 300, "ghost", False, 0, [QueueQuota(QUEUE, 1)])
    claimed = await client.scripts.get(Claim)(args)  # a worker that claims it, then dies
    assert [j.job_id for j in claimed.jobs] == [job.job_id]
    assert (await client.enqueue("record", 2, _unique="k")).job_id == job.job_id
    record, runs, _ = recorder()
    async with run_worker([record]):
        assert await job.result(timeout=5) == 1  # its lease lapsed: another worker ran it
    assert runs == [(job.job_id, 1)] and holder(sync_r, "k") is None


async def test_a_worker_without_the_release_still_frees_keys_whose_job_ended(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    record, runs, _ = recorder()
    async with run_worker([record], default_extensions=False):
        job = await client.enqueue("record", 1, _unique="k", _unique_for=60)
        assert await job.result(timeout=5) == 1
        assert holder(sync_r, "k") == b"L" + job.job_id.encode()  # not released: no hook ran
        after = await client.enqueue("record", 2, _unique="k")  # but its job is gone: the key is free
        assert after.deduplicated is False and await after.result(timeout=5) == 2
    assert [value for _, value in runs] == [1, 2]
    assert sync_r.hkeys("arq:uniques") == [after.job_id.encode()]  # the stale holder was forgotten


async def test_unique_for_holds_the_key_after_the_job_ended(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    record, runs, _ = recorder()
    async with run_worker([record]):
        job = await client.enqueue("record", 1, _unique="k", _unique_for=timedelta(seconds=0.6))
        assert await job.result(timeout=5) == 1
        throttled = await client.enqueue("record", 2, _unique="k", _unique_for=0.6)
        assert throttled.job_id == job.job_id and throttled.deduplicated is True
        assert await throttled.result(timeout=1) == 1  # the finished job's handle
        assert 0 < sync_r.pttl("arq:unique:k") <= 600
        await eventually(lambda: holder(sync_r, "k") is None, "the window to close", timeout=3)
        after = await client.enqueue("record", 3, _unique="k", _unique_for=0.6)
        assert after.deduplicated is False and await after.result(timeout=5) == 3
    assert [value for _, value in runs] == [1, 3]


async def test_debounce_runs_once_with_the_last_arguments_after_a_burst(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    jobs = [await client.enqueue("record", n, _unique="k", _debounce=0.3) for n in range(5)]
    assert {j.job_id for j in jobs} == {jobs[0].job_id}
    assert [j.deduplicated for j in jobs] == [False, True, True, True, True]
    assert (await jobs[0].info() or {})["a"] == [4]
    due = sync_r.zscore(QUEUE, jobs[0].job_id)
    assert due is not None and due > now_ms() + 200
    record, runs, _ = recorder()
    async with run_worker([record]):
        assert await jobs[0].result(timeout=5) == 4
    assert runs == [(jobs[0].job_id, 4)]


async def test_unique_jobs_take_priorities_and_a_debounce_keeps_the_holders(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    plain = await client.enqueue("record", "plain")
    urgent = await client.enqueue("record", "urgent", _unique="u", _priority=7)
    assert await urgent.priority() == 7 and sync_r.zcard(QUEUE) == 1  # in the ready set, not the queue
    again = await client.enqueue("record", "again", _unique="u", _priority=2)
    assert again.deduplicated and again.job_id == urgent.job_id
    later = [await client.enqueue("record", n, _unique="d", _priority=4, _debounce=0.2) for n in range(3)]
    assert {j.job_id for j in later} == {later[0].job_id}
    assert await later[0].priority() == 4  # deferred by the debounce, its priority kept
    assert (await later[0].info() or {})["a"] == [2]
    record, runs, _ = recorder()
    async with run_worker([record], max_jobs=1):
        assert await later[0].result(timeout=5) == 2
        await plain.result(timeout=5)
    assert [value for _, value in runs] == ["urgent", "plain", 2]  # priority first, then FIFO; debounced last


async def test_debounce_while_the_holder_runs_defers_a_new_job(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    record, runs, gate = recorder()
    gate.clear()
    async with run_worker([record]):
        running = await client.enqueue("record", 1, _unique="k", _debounce=0)
        await eventually(lambda: runs, "the first job to run")
        later = await client.enqueue("record", 2, _unique="k", _debounce=0.2)
        assert later.deduplicated is False and later.job_id != running.job_id
        assert holder(sync_r, "k") == b"L" + later.job_id.encode()
        gate.set()
        assert await running.result(timeout=5) == 1
        assert await later.result(timeout=5) == 2
    assert runs == [(running.job_id, 1), (later.job_id, 2)] and holder(sync_r, "k") is None


async def test_many_producers_at_once_get_one_job(redis_url: str, sync_r: sync_redis.Redis) -> None:
    clients = [Client(redis_url) for _ in range(8)]
    for c in clients:
        await c.connect()
    try:
        jobs = await asyncio.gather(
            *(c.enqueue("record", n, _unique="race") for n in range(25) for c in clients)
        )
    finally:
        for c in clients:
            await c.aclose()
    assert len({j.job_id for j in jobs}) == 1
    assert collections.Counter(j.deduplicated for j in jobs) == {True: 199, False: 1}
    assert sync_r.zcard(QUEUE) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"_unique": ""}, "non-empty"),
        ({"_unique": 7}, "non-empty"),
        ({"_unique_for": 5}, "need _unique"),
        ({"_debounce": 5}, "need _unique"),
        ({"_unique": "k", "_unique_for": -1}, "_unique_for must be 0 seconds or more"),
        ({"_unique": "k", "_debounce": timedelta(seconds=-1)}, "_debounce must be"),
        ({"_unique": "k", "_unique_for": 1, "_debounce": 1}, "not both"),
        ({"_unique": "k", "_debounce": 1, "_defer_by": 1}, "sets the run time"),
    ],
)
async def test_bad_unique_options_fail_before_any_write(
    client: Client, sync_r: sync_redis.Redis, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        await client.enqueue("record", 1, **options)
    assert sync_r.dbsize() == 0


async def test_a_job_id_is_checked_first_then_names_the_new_job(client: Client) -> None:
    first = await client.enqueue("record", 1, _unique="k", _job_id="a")
    assert first is not None and first.job_id == "a"
    assert await client.enqueue("record", 1, _unique="k", _job_id="a") is None  # arq: the id exists
    other = await client.enqueue("record", 1, _unique="k", _job_id="b")
    assert other is not None and other.job_id == "a" and other.deduplicated is True


async def test_info_and_the_cli_show_the_key(client: Client, redis_url: str) -> None:
    job = await client.enqueue("record", 1, _unique="report:7")
    assert (await job.info() or {})["unique"] == "report:7"
    assert await job.unique_key() == "report:7"
    assert await (await client.enqueue("record", 1)).unique_key() is None
    out = run_cli("job", job.job_id, redis_url=redis_url)
    assert "unique key: report:7" in out.stdout
    assert '"unique":"report:7"' in run_cli("job", job.job_id, "--json", redis_url=redis_url).stdout


def test_producer_processes_racing_on_one_key_get_one_job(redis_url: str, sync_r: sync_redis.Redis) -> None:
    start_at = time.time() + 1.5  # all four connected by then
    producers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.unique_producer", str(start_at), "race"],
            env=subprocess_env(redis_url),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    lines = [line for p in producers for line in p.communicate(timeout=30)[0].splitlines()]
    assert [p.returncode for p in producers] == [0] * 4
    jobs = [orjson.loads(line) for line in lines]
    assert len(jobs) == 160 and len({job_id for job_id, _ in jobs}) == 1
    assert collections.Counter(dedup for _, dedup in jobs) == {True: 159, False: 1}
    assert sync_r.zcard(QUEUE) == 1


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[FreezableProxy]:
    async with freezable_proxy(redis_url) as p:
        yield p


async def test_a_lost_reply_is_retried_into_the_same_job_not_deduplicated(
    proxy: FreezableProxy, sync_r: sync_redis.Redis
) -> None:
    async with Client(proxy.url) as client:
        await client.enqueue("record", 0, _unique="warm-up")  # the script is loaded: the lost call runs
        proxy.lose_reply(b"EVALSHA")
        job = await client.enqueue("record", 1, _unique="k")
        assert proxy.lost_replies == 1
        assert job.deduplicated is False and holder(sync_r, "k") == b"L" + job.job_id.encode()
        proxy.lose_reply(b"EVALSHA")
        again = await client.enqueue("record", 2, _unique="k")
        assert proxy.lost_replies == 2
        assert again.job_id == job.job_id and again.deduplicated is True
    assert sync_r.zcard(QUEUE) == 2


async def test_a_lost_debounce_reply_is_retried_into_the_same_debounced_job(
    proxy: FreezableProxy, sync_r: sync_redis.Redis
) -> None:
    async with Client(proxy.url) as client:
        first = await client.enqueue("record", 1, _unique="k", _debounce=30)
        proxy.lose_reply(b"EVALSHA")
        second = await client.enqueue("record", 2, _unique="k", _debounce=30)
        assert proxy.lost_replies == 1
        assert second.job_id == first.job_id and second.deduplicated is True
        assert (await first.info() or {})["a"] == [2]
        proxy.lose_reply(b"EVALSHA")  # the first job of a burst, its reply lost: still a new job
        other = await client.enqueue("record", 3, _unique="other", _debounce=30)
        assert proxy.lost_replies == 2 and other.deduplicated is False
    assert sync_r.zcard(QUEUE) == 2


@pytest.fixture
def pair() -> Iterator[tuple[RedisServer, RedisServer]]:
    """A primary and a replica of it, synced."""
    with RedisServer() as primary, RedisServer() as replica:
        replicate(replica, primary)
        yield primary, replica


async def test_min_replicas_applies_to_new_and_deduplicated_jobs(
    pair: tuple[RedisServer, RedisServer], transport: str
) -> None:
    primary, replica = pair
    with contextlib.closing(sync_redis.Redis(port=replica.port)) as on_replica:
        async with Client(primary.url, min_replicas=1, replication_timeout_s=5) as client:
            job = await client.enqueue("record", 1, _unique="k")
            assert on_replica.exists(f"arq:job:{job.job_id}")  # there the moment enqueue returned
            again = await client.enqueue("record", 2, _unique="k")
            assert again.deduplicated is True and again.job_id == job.job_id
            debounced = await client.enqueue("record", 3, _unique="d", _debounce=30)
            await client.enqueue("record", 4, _unique="d", _debounce=30)
            assert orjson.loads(on_replica.get(f"arq:job:{debounced.job_id}") or b"{}")["a"] == [4]
    with RedisServer() as lone:
        async with Client(lone.url, min_replicas=1, replication_timeout_s=0.1, retry_window_s=0) as client:
            with pytest.raises(ReplicationError, match="only 0 of 1") as e:
                await client.enqueue("record", 1, _unique="k")
            held = e.value.job_id
            with pytest.raises(ReplicationError, match=f"job {held} was written"):  # names the holder
                await client.enqueue("record", 2, _unique="k")
            assert await client.redis.zcard(QUEUE) == 1


async def test_a_debounce_that_makes_the_holder_due_sooner_wakes_idle_workers(
    client: Client, run_worker: WorkerFactory, sync_r: sync_redis.Redis
) -> None:
    record, runs, _ = recorder()
    async with run_worker([record], poll_delay=30):  # only a wake-up can start it in time
        job = await client.enqueue("record", 1, _unique="k", _defer_by=20)
        await eventually(lambda: sync_r.scard(f"arq:idle:{QUEUE}"), "the worker to wait idle")
        moved = await client.enqueue("record", 2, _unique="k", _debounce=0.1)
        assert moved.job_id == job.job_id and moved.deduplicated is True
        assert await job.result(timeout=5) == 2
    assert runs == [(job.job_id, 2)]
