"""Job lifecycle events: written by real workers and clients to each queue's stream, read back typed."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from typing import Any

import orjson
import pytest

from aqueue import Client, cron, task
from aqueue.dead import requeue_dead
from aqueue.embedded import RedisServer
from aqueue.events import Event, EventKind, expand_entry, read_events
from aqueue.workflows import chain, si, sig
from tests.conftest import aqueue_cli, run_cli
from tests.outcome_tasks import add, again, boom
from tests.support import LoggedProcess, eventually
from tests.test_dead import make_dead

GATE: dict[str, asyncio.Event] = {}


@task
async def halfway(ctx: dict[str, Any]) -> str:
    await ctx["progress"](0.5, "half")
    return "done"


@task
async def held(ctx: dict[str, Any]) -> None:
    await GATE["held"].wait()


@task(concurrency=1)
async def single(ctx: dict[str, Any], seconds: float) -> None:
    await asyncio.sleep(seconds)


@task(group_rate_limit="1/10s")
async def per_tenant(ctx: dict[str, Any]) -> None:
    pass


async def history(client: Client, **options: Any) -> list[Event]:
    return [e async for e in client.events(follow=False, **options)]


def kinds(events: list[Event], job_id: str) -> list[str]:
    return [e.kind.value for e in events if e.job_id == job_id]


async def test_each_lifecycle_is_recorded_with_its_fields(client: Client, run_worker: Any) -> None:
    async with run_worker([add, boom, again, halfway]):
        ok = await client.enqueue("add", 1, 2, _job_id="ok")
        bad = await client.enqueue("boom", _job_id="bad")
        retried = await client.enqueue("again", _job_id="retried")
        progress = await client.enqueue("halfway", _job_id="progress")
        for job in (ok, bad, retried, progress):
            assert job is not None
            with contextlib.suppress(ValueError):
                await job.result(timeout=5)
        await eventually(lambda: _count(client, "progress", "succeeded"), "the last end event")
        await eventually(lambda: _count(client, "retried", "started", 2), "both starts of the retried job")
    events = await history(client)
    assert kinds(events, "ok") == ["enqueued", "started", "succeeded"]
    assert kinds(events, "bad") == ["enqueued", "started", "failed"]
    assert kinds(events, "retried") == ["enqueued", "started", "retrying", "started", "succeeded"]
    assert kinds(events, "progress") == ["enqueued", "started", "progress", "succeeded"]
    by = {(e.job_id, e.kind, e.job_try): e for e in events}
    enq = by["ok", EventKind.ENQUEUED, None]
    assert enq.task == "add" and enq.queue == client.default_queue
    start = by["ok", EventKind.STARTED, 1]
    assert start.pickup is not None and 0 <= start.pickup < 5  # due (enqueued) to start, seconds
    assert enq.pickup is None and start.to_json()["pickup"] == start.pickup
    done = by["ok", EventKind.SUCCEEDED, 1]
    assert done.task == "add" and done.duration is not None and 0 <= done.duration < 5 and done.error is None
    assert by["bad", EventKind.FAILED, 1].error == "ValueError"
    assert by["retried", EventKind.RETRYING, 1].error == "Retry"
    assert by["retried", EventKind.SUCCEEDED, 2].task == "again"
    report = by["progress", EventKind.PROGRESS, 1]
    assert (report.progress, report.message) == (0.5, "half")
    positions = [e.position for e in events]
    assert len(set(positions)) == len(positions)
    assert [e.position for e in await history(client, reverse=True)] == positions[::-1]
    assert len(await history(client, limit=3)) == 3


async def _count(client: Client, job_id: str, kind: str, n: int = 1) -> bool:
    return kinds(await history(client), job_id).count(kind) >= n


async def test_abort_and_dead_letter_events(client: Client, run_worker: Any) -> None:
    GATE["held"] = asyncio.Event()
    await make_dead(client, "doomed", deliveries=3)
    async with run_worker([add, held], max_deliveries=3):
        job = await client.enqueue("held", _job_id="stuck")
        assert job is not None
        await eventually(lambda: _count(client, "stuck", "started"), "the held job to start")
        assert await job.abort(timeout=5)
        await eventually(lambda: _count(client, "stuck", "aborted"), "the aborted event")
    events = await history(client)
    dead = [e for e in events if e.kind is EventKind.DEAD]
    assert [(e.job_id, e.task, e.job_try) for e in dead] == [("doomed", "add", 3)]
    assert [e.error for e in events if e.kind is EventKind.ABORTED] == ["JobAborted"]
    assert await requeue_dead(client, ["doomed"]) == 1  # the dead letter put back is enqueued again
    assert kinds(await history(client), "doomed") == ["enqueued", "dead", "enqueued"]


async def test_a_duplicate_id_and_a_fenced_outcome_are_no_events(client: Client, run_worker: Any) -> None:
    await client.enqueue("add", 1, 1, _job_id="once")
    assert await client.enqueue("add", 1, 1, _job_id="once") is None
    assert kinds(await history(client), "once") == ["enqueued"]


async def test_events_can_be_turned_off(redis_url: str, run_worker: Any) -> None:
    async with Client(redis_url, events=False) as client:
        async with run_worker([add], events=False):
            job = await client.enqueue("add", 1, 2)
            assert await job.result(timeout=5) == 3
            await asyncio.sleep(0.1)
        assert await history(client) == []
        assert await client.redis.exists(client.keys.events(client.default_queue)) == 0


async def test_the_stream_is_capped(redis_url: str) -> None:
    async with Client(redis_url, events_maxlen=100) as client:
        jobs = await client.enqueue_many("add", [(i, i) for i in range(1200)])
        assert len(jobs) == 1200
        for _ in range(300):
            await client.enqueue("add", 0, 0)
        stream = client.keys.events(client.default_queue)
        assert 100 <= await client.redis.xlen(stream) < 250  # MAXLEN ~: trimmed by whole nodes
        newest = [e async for e in client.events(follow=False, reverse=True, limit=1)]
        assert newest[0].kind is EventKind.ENQUEUED and newest[0].task == "add"


async def test_workflow_nodes_have_end_events(client: Client, run_worker: Any) -> None:
    async with run_worker([add]):
        run = await chain(sig("add", 1, 2), sig("add", 10)).enqueue(client)
        assert await run.result(timeout=5) == 13
        await eventually(lambda: _ends(client, 2), "both nodes' succeeded events")
    events = await history(client)
    nodes = sorted({e.job_id for e in events})
    assert len(nodes) == 2  # the second node was enqueued by the first one's continuation
    assert all(kinds(events, node) == ["enqueued", "started", "succeeded"] for node in nodes)


async def test_a_failed_nodes_error_callback_is_an_enqueued_event(client: Client, run_worker: Any) -> None:
    async with run_worker([add, boom]):
        run = await chain(sig("boom").on_error(si("add", 1, 1)), sig("add", 2)).enqueue(client)
        with contextlib.suppress(ValueError):
            await run.result(timeout=5)
        errback = f"{run.run_id}:err:0"  # enqueued by the continuation that failed the run
        await eventually(lambda: _count(client, errback, "succeeded"), "the error callback's end")
    assert kinds(await history(client), errback) == ["enqueued", "started", "succeeded"]


async def test_unique_jobs_are_enqueued_events_once_per_new_job(client: Client) -> None:
    first = await client.enqueue("add", 1, 1, _unique="k")
    again = await client.enqueue("add", 2, 2, _unique="k")  # held: the same job, no event
    debounced = await client.enqueue("add", 3, 3, _unique="d", _debounce=5)
    await client.enqueue("add", 4, 4, _unique="d", _debounce=5)  # moves the waiting job: no new one
    assert first is not None and again is not None and again.deduplicated and debounced is not None
    enqueued = [(e.job_id, e.task) for e in await history(client) if e.kind is EventKind.ENQUEUED]
    assert enqueued == [(first.job_id, "add"), (debounced.job_id, "add")]


async def test_cron_runs_are_enqueued_events(client: Client, run_worker: Any) -> None:
    async with run_worker([add], cron_jobs=[cron("* * * * * *", "add", args=(1, 2), name="tick")]):
        await eventually(lambda: _enqueued(client, "add"), "a cron run's enqueued event", timeout=5)


async def _enqueued(client: Client, task_name: str) -> bool:
    return any(e.kind is EventKind.ENQUEUED and e.task == task_name for e in await history(client))


async def _ends(client: Client, n: int) -> bool:
    ends = [e for e in await history(client) if e.kind is EventKind.SUCCEEDED]
    return len(ends) >= n and all(e.task == "add" and e.job_try == 1 for e in ends)


async def test_jobs_held_back_by_a_limit_have_a_waiting_event_once(client: Client, run_worker: Any) -> None:
    async with run_worker([single, per_tenant], max_jobs=5):
        first = await client.enqueue("single", 0.3, _job_id="s0")
        await eventually(lambda: _count(client, "s0", "started"), "the first to hold the slot")
        for n in (1, 2):
            await client.enqueue("single", 0, _job_id=f"s{n}")
        await client.enqueue("per_tenant", _group="t1", _job_id="g0")
        await client.enqueue("per_tenant", _group="t1", _job_id="g1")  # over the group's rate
        assert first is not None and await first.result(timeout=5) is None
        await client.job("s2").result(timeout=5)
        await eventually(lambda: _count(client, "s2", "succeeded"), "the last single's end")
        await eventually(lambda: _count(client, "g1", "waiting"), "the rate-limited job's waiting event")
    events = await history(client)
    assert kinds(events, "s0") == ["enqueued", "started", "succeeded"]
    for job_id in ("s1", "s2"):  # s2 was given back once more and held again: still one event
        assert kinds(events, job_id) == ["enqueued", "waiting", "started", "succeeded"]
    waits = {e.job_id: e for e in events if e.kind is EventKind.WAITING}
    s1 = waits["s1"]
    assert (s1.task, s1.reason, s1.limit) == ("single", "concurrency", "concurrency=1")
    assert (waits["g1"].reason, waits["g1"].limit) == ("rate", "group_rate_limit=1/10000ms group=t1")
    assert waits["g1"].to_json()["reason"] == "rate" and "g0" not in waits


async def test_follow_resumes_after_a_dropped_connection_without_loss_or_repeat(tmp_path: Any) -> None:
    with RedisServer(port=0) as server:
        async with Client(server.url) as client:
            seen: list[Event] = []

            async def follow() -> None:
                async for event in client.events(client.default_queue):
                    seen.append(event)

            reader = asyncio.create_task(follow())
            await asyncio.sleep(0.2)
            for i in range(5):
                await client.enqueue("add", i, i, _job_id=f"a{i}")
            await eventually(lambda: len(seen) == 5, "the first five events")
            await client.redis.client_kill_filter(
                _type="normal", skipme=True
            )  # drops the reader's connection
            for i in range(5):
                await client.enqueue("add", i, i, _job_id=f"b{i}")
            await eventually(lambda: len(seen) == 10, "the next five events after reconnecting")
            await asyncio.sleep(0.3)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    assert [e.job_id for e in seen] == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)]


async def follow_until(client: Client, last: str, **options: Any) -> list[str]:
    """Follow the default queue's events while ``last`` is enqueued; return the ids seen up to it."""
    got: list[str] = []

    async def follow() -> None:
        async for event in client.events(client.default_queue, **options):
            got.append(event.job_id)

    reader = asyncio.create_task(follow())
    await asyncio.sleep(0.3)
    await client.enqueue("add", 0, 0, _job_id=last)
    await eventually(lambda: last in got, f"the event of {last}")
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    return got


async def test_follow_starts_now_or_after_a_position(client: Client) -> None:
    for job_id in ("old", "mid"):
        await client.enqueue("add", 0, 0, _job_id=job_id)
    old = (await history(client))[0]
    assert old.job_id == "old"
    assert await follow_until(client, "new") == ["new"]
    assert await follow_until(client, "newer", since=old.position) == ["mid", "new", "newer"]
    assert await follow_until(client, "newest", since=old.time) == ["old", "mid", "new", "newer", "newest"]


class _LosesCancellations:
    """The client's redis-py pool, but a cancelled XREAD returns as if it had just completed.

    That is what redis-py does on Python 3.11 when the cancellation lands as a command's write ends
    (its ``asyncio.wait_for`` keeps the result and drops the cancellation, CPython gh-86296): the
    race that made ``test_follow_starts_now_or_after_a_position`` hang now and then.
    """

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    def __getattr__(self, name: str) -> Any:
        return getattr(self.redis, name)

    async def xread(self, *args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(asyncio.CancelledError):
            return await self.redis.xread(*args, **kwargs)
        return None


@pytest.mark.transport("wire")  # the reader runs on redis-py either way
async def test_a_follower_stops_when_cancelled_even_if_a_command_lost_the_cancellation(
    client: Client,
) -> None:
    await client.enqueue("add", 0, 0)
    events = read_events(_LosesCancellations(client.redis), client.keys, [client.default_queue])
    reader = asyncio.create_task(anext(events))
    await asyncio.sleep(0.3)  # in XREAD, blocking for new events
    reader.cancel()
    done, _ = await asyncio.wait({reader}, timeout=3)
    assert done and reader.cancelled()
    await events.aclose()


def test_entries_in_the_object_form_of_earlier_versions_still_read() -> None:
    note = [
        {"k": "started", "id": "a", "f": "add", "try": 1, "t": 1000},
        {"k": "failed", "id": "a", "f": "add", "try": 1, "t": 2500, "d": 1.5, "x": "ValueError"},
    ]
    started, failed = expand_entry("q", "2-0", {b"aq.e": orjson.dumps(note), b"aq.m": b"1"})
    assert (started.kind, started.job_try, started.time.timestamp(), started.pickup) == (
        "started",
        1,
        1.0,
        None,
    )
    assert (failed.kind, failed.duration, failed.error, failed.position) == (
        "failed",
        1.5,
        "ValueError",
        "2-0:1",
    )


async def test_bad_reader_options_fail_clearly(client: Client) -> None:
    with pytest.raises(Exception, match="since must be"):
        await history(client, since="yesterday")
    with pytest.raises(Exception, match="limit must be"):
        await history(client, limit=0)


@pytest.mark.transport("wire")
def test_cli_prints_events_as_text_and_json(redis_url: str, sync_r: Any) -> None:
    first = run_cli("enqueue", "add", "1", "2", redis_url=redis_url)
    assert first.returncode == 0, first.stderr
    shown = run_cli("events", redis_url=redis_url)
    assert shown.returncode == 0, shown.stderr
    assert " enqueued " in shown.stdout and "  add  " in shown.stdout
    as_json = run_cli("events", "--json", "--queue", "arq:queue", redis_url=redis_url)
    assert as_json.returncode == 0, as_json.stderr
    (event,) = orjson.loads(as_json.stdout)
    assert event["kind"] == "enqueued" and event["task"] == "add" and event["time"].endswith("+00:00")
    assert run_cli("events", "--since", "nonsense", redis_url=redis_url).returncode == 1
    assert run_cli("events", "--limit", "0", redis_url=redis_url).returncode == 2


@pytest.mark.transport("wire")
def test_cli_follow_prints_new_events_and_exits_130_on_sigint(redis_url: str) -> None:
    follower = LoggedProcess(aqueue_cli("events", "--follow", "--json", redis_url=redis_url), "events")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and '"enqueued"' not in follower.log:
            assert run_cli("enqueue", "add", "1", "2", redis_url=redis_url).returncode == 0
            time.sleep(0.3)  # the follower may not have started reading yet: enqueue again
        assert orjson.loads(follower.lines[0])["kind"] == "enqueued", follower.log
        follower.proc.send_signal(signal.SIGINT)
        assert follower.proc.wait(timeout=10) == 130, follower.log
    finally:
        follower.kill()
