"""The live registry, pause/resume/trigger, and the runner inside real (in-process) workers."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aqueue import Worker, task
from aqueue.scheduler import CronJobNotFound, ManualClock, cron, list_jobs, pause, resume, slot_id, trigger
from aqueue.scheduler._extension import CronExtension
from aqueue.serialization import job_deserializer

SEEN: list[tuple[str, datetime, str]] = []
GATE: dict[str, asyncio.Event] = {}


@task(name="cron_probe")
async def probe(ctx: dict[str, Any], tag: str = "") -> str:
    """Record which cron run this is, wait for the test's gate if there is one, fail on request."""
    SEEN.append((ctx["cron_name"], ctx["scheduled_time"], tag))
    if tag in GATE:
        await GATE[tag].wait()
    if tag == "fail":
        raise ValueError("asked to fail")
    await asyncio.sleep(0.02)
    return tag


@pytest.fixture(autouse=True)
def _reset() -> None:
    SEEN.clear()
    GATE.clear()


def past_clock() -> ManualClock:
    """A clock an hour behind, on a whole minute: its runs are due at once for a real worker."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    return ManualClock(start)


async def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_registry_holds_definitions_and_state(make_runners, client) -> None:
    jobs = [
        cron("0 9 * * mon-fri", "report", tz="Europe/Paris", name="daily"),
        cron("*/15 * * * *", "refresh", missed="latest", overlap="skip", queue="low"),
    ]
    clock = ManualClock(datetime(2030, 1, 4, 7, 59, 59, 990_000, tzinfo=UTC))  # a Friday, 08:59:59.99 Paris
    (runner,) = make_runners(jobs, clock)
    await runner.step()
    entries = {e.name: e for e in await list_jobs(client)}
    daily, refresh = entries["daily"], entries["refresh"]
    assert (daily.schedule, daily.tz, daily.task, daily.queue) == (
        "0 9 * * mon-fri",
        "Europe/Paris",
        "report",
        "arq:queue",
    )
    assert daily.last_run == datetime(2030, 1, 4, 9, tzinfo=ZoneInfo("Europe/Paris"))  # enqueued 10 ms early
    assert daily.next_run == datetime(2030, 1, 7, 9, tzinfo=ZoneInfo("Europe/Paris"))
    assert (daily.runs, daily.missed, daily.skipped, daily.paused) == (1, 0, 0, False)
    assert daily.last_outcome is None
    assert refresh.queue == "low" and refresh.last_run == datetime(2030, 1, 4, 8, tzinfo=UTC)
    assert refresh.next_run == datetime(2030, 1, 4, 8, 15, tzinfo=UTC)
    record = daily.to_record()
    assert record["next_run"] == "2030-01-07T08:00:00+00:00" and record["paused"] is False  # --json: UTC


async def test_pause_resume_and_trigger(make_runners, client, sync_r) -> None:
    job = cron("0 0 1 1 *", probe, args=("triggered",), name="yearly")
    (runner,) = make_runners([job], ManualClock(datetime(2030, 6, 1, tzinfo=UTC)))
    await runner.start()
    await pause(client, "yearly")
    assert [e.paused for e in await list_jobs(client)] == [True]
    await resume(client, "yearly")
    assert [e.paused for e in await list_jobs(client)] == [False]

    before = int(time.time() * 1000)
    handle = await trigger(client, "yearly")
    assert handle.job_id.startswith("cron:yearly:manual:")
    score = int(sync_r.zscore("arq:queue", handle.job_id))
    envelope = job_deserializer(sync_r.get(f"arq:job:{handle.job_id}"))
    assert (envelope["f"], envelope["a"], envelope["cron"][0]) == ("cron_probe", ["triggered"], "yearly")
    assert before <= envelope["cron"][1] == score <= int(time.time() * 1000)
    (entry,) = await list_jobs(client)
    assert entry.triggered == 1 and entry.runs == 1

    for action in (pause, resume, trigger):
        with pytest.raises(CronJobNotFound, match="'nope'"):
            await action(client, "nope")


async def test_worker_runs_cron_jobs_with_scheduled_time_and_records_outcomes(
    make_runners, run_worker, client
) -> None:
    ok = cron("* * * * *", probe, args=("ok",), name="ok-job")
    bad = cron("* * * * *", probe, args=("fail",), name="bad-job")
    clock = past_clock()
    (runner,) = make_runners([ok, bad], clock)
    async with run_worker([probe]):
        await runner.step()
        await until(lambda: len(SEEN) == 2)
        for _ in range(500):
            entries = {e.name: e for e in await list_jobs(client)}
            if all(e.last_outcome for e in entries.values()):
                break
            await asyncio.sleep(0.01)
    assert sorted(SEEN) == [("bad-job", clock.now(), "fail"), ("ok-job", clock.now(), "ok")]
    assert (entries["ok-job"].last_outcome, entries["bad-job"].last_outcome) == ("ok", "err")
    duration = entries["ok-job"].last_duration
    assert duration is not None and timedelta(milliseconds=15) <= duration < timedelta(seconds=2)
    result = await client.job(f"cron:ok-job:{slot_id(clock.now())}").result(timeout=5)
    assert result == "ok"


async def test_buffer_one_releases_the_buffered_slot_when_the_run_finishes(
    make_runners, run_worker, client
) -> None:
    job = cron("* * * * *", probe, args=("slow",), name="slow", overlap="buffer_one")
    clock = past_clock()
    (runner,) = make_runners([job], clock)
    GATE["slow"] = asyncio.Event()
    start = clock.now()
    async with run_worker([probe]):
        statuses = []
        for minute in range(3):
            clock.set(start + timedelta(minutes=minute))
            statuses += [c.status for c in await runner.step()]
            await until(lambda: len(SEEN) == 1)
        assert statuses == ["run", "buffer", "skip"]
        GATE["slow"].set()  # the first run ends: the observer releases the 2nd minute's slot
        await until(lambda: len(SEEN) == 2)
    assert [when for _, when, _ in SEEN] == [start, start + timedelta(minutes=1)]
    (entry,) = await list_jobs(client)
    assert (entry.runs, entry.skipped) == (2, 1)


async def test_worker_with_cron_jobs_installs_the_runner(run_worker, client) -> None:
    job = cron("0 0 1 1 *", probe, name="new-year")
    worker = Worker([], cron_jobs=[job], redis_settings=client.settings)
    assert [e.jobs for e in worker.extensions if isinstance(e, CronExtension)] == [[job]]
    plain = Worker([probe], redis_settings=client.settings)
    assert [e.jobs for e in plain.extensions if isinstance(e, CronExtension)] == [[]]
    async with run_worker([], cron_jobs=[job]):
        for _ in range(200):
            if await list_jobs(client):
                break
            await asyncio.sleep(0.01)
    (entry,) = await list_jobs(client)
    assert (entry.name, entry.task) == ("new-year", "cron_probe")
    assert entry.next_run is not None and (entry.next_run.month, entry.next_run.day) == (1, 1)


async def test_cron_timeout_and_keep_result_override_the_task(make_runners, run_worker, client) -> None:
    @task(timeout=60, keep_result=3600)
    async def sleepy(ctx: dict[str, Any], seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "woke"

    short = cron("* * * * *", sleepy, args=(5,), name="short", timeout=0.2)
    brief = cron("* * * * *", sleepy, args=(0,), name="brief", keep_result=1.5)
    clock = past_clock()
    (runner,) = make_runners([short, brief], clock)
    async with run_worker([sleepy]):
        await runner.step()
        slot = slot_id(clock.now())
        with pytest.raises(TimeoutError, match=r"timed out after 0\.2s"):
            await client.job(f"cron:short:{slot}").result(timeout=5)
        assert await client.job(f"cron:brief:{slot}").result(timeout=5) == "woke"
    ttl_ms = await client.redis.pttl(client.keys.result(f"cron:brief:{slot}"))
    assert 0 < ttl_ms <= 1500
