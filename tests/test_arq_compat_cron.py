"""arq's keyword cron jobs (``arq.cron(coroutine, hour=…)``) on aqueue.Worker: run once per slot."""

from __future__ import annotations

import asyncio
import itertools
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from arq import cron as arq_cron

from aqueue import ConfigurationError, Worker
from aqueue.scheduler._cli import load_cron_jobs
from aqueue.scheduler._definition import arq_schedule, cron_definitions, from_arq
from aqueue.scheduler._definition import cron as aqueue_cron
from aqueue.scheduler._extension import CronExtension

PICKLE: dict[str, Any] = {"job_serializer": pickle.dumps, "job_deserializer": pickle.loads}


async def tick(ctx: dict[str, Any]) -> str:
    slot = ctx["scheduled_time"].isoformat()
    await ctx["redis"].rpush(f"ticks:{ctx['cron_name']}", slot)
    return slot


async def tock(ctx: dict[str, Any]) -> str:
    return await tick(ctx)


async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


class ArqSettings:
    cron_jobs = [arq_cron(tick, hour=9, minute=0)]
    timezone = ZoneInfo("Europe/Paris")


def worker(redis_url: str, **options: Any) -> Worker:
    options.setdefault("handle_signals", False)
    return Worker(redis_settings=redis_url, poll_delay=0.05, **{**PICKLE, **options})


async def burst(w: Worker) -> Worker:
    try:
        await asyncio.wait_for(w.async_run(), 15)
    finally:
        await w.close()
    return w


@pytest.mark.parametrize(
    ("options", "schedule"),
    [
        ({"hour": 1}, "* 1 * * * 0"),  # arq: every minute of hour 1, at second 0
        ({"minute": {30, 0, 15}, "second": 5}, "0,15,30 * * * * 5"),
        ({"weekday": "mon", "hour": 9, "minute": 0}, "0 9 * * 1 0"),  # arq counts weekdays from Monday
        ({"weekday": {0, 6, "sat"}}, "* * * * 0,1,6 0"),
        ({"month": 12, "day": 25, "hour": 8, "minute": 0}, "0 8 25 12 * 0"),
        ({"second": None}, "* * * * * *"),
    ],
)
def test_arq_keyword_options_become_a_crontab(options: dict[str, Any], schedule: str) -> None:
    job = arq_cron(tick, **options)
    assert arq_schedule(job) == schedule
    assert from_arq(job).schedule == schedule


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"day": 13, "weekday": "fri"}, "sets both day and weekday"),
        ({"hour": 25}, "bad hour field '25'"),
        ({"weekday": 7}, "arq's weekdays are 0 \\(Monday\\) to 6"),
        ({"minute": "half"}, "expected an int or a set of ints"),
    ],
)
def test_arq_options_aqueue_cannot_honour_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        from_arq(arq_cron(tick, **options))


async def test_arq_cron_job_keeps_its_options_and_the_workers_zone(redis_url: str) -> None:
    paris = ZoneInfo("Europe/Paris")
    cj = arq_cron(tick, hour=3, timeout=5, keep_result=60, max_tries=2, run_at_startup=True, job_id="one")
    w = worker(redis_url, cron_jobs=[cj], timezone=paris)
    (definition,) = next(e for e in w.extensions if isinstance(e, CronExtension)).jobs
    assert (definition.name, definition.task, definition.tz) == ("cron:tick", "cron:tick", paris)
    assert (definition.run_at_startup, definition.job_id) == (True, "one")
    task = w.task_defs["cron:tick"]
    assert (task.timeout_s, task.keep_result_s, task.max_tries) == (5, 60, 2)
    after = datetime(2030, 6, 1, tzinfo=paris)
    assert definition.next_run(after) == datetime(2030, 6, 1, 3, tzinfo=paris)


def test_arq_unique_false_is_not_kept_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    job = from_arq(arq_cron(tick, hour=1, unique=False))
    assert job.job_id is None and job.job_id_prefix == "cron:tick"
    assert "unique=False is not kept" in caplog.text


def test_arq_jobs_sharing_a_name_get_registry_names_of_their_own() -> None:
    jobs = cron_definitions(
        [arq_cron(tick, minute=10), arq_cron(tick, minute=20), aqueue_cron("@daily", add)]
    )
    assert [j.name for j in jobs] == ["cron:tick", "cron:tick#2", "add"]
    assert {j.task for j in jobs[:2]} == {"cron:tick"}
    with pytest.raises(ConfigurationError, match="aqueue.cron or arq.cron"):
        cron_definitions(["0 * * * *"])


def test_cron_list_reads_arq_cron_jobs_in_the_settings_zone() -> None:
    (job,) = load_cron_jobs("tests.test_arq_compat_cron.ArqSettings")
    assert (job.name, job.schedule, job.tz) == ("cron:tick", "0 9 * * * 0", ZoneInfo("Europe/Paris"))


async def test_arq_cron_jobs_alone_make_a_worker_that_runs_them_at_startup(
    redis_url: str, sync_r: Any
) -> None:
    w = await burst(worker(redis_url, cron_jobs=[arq_cron(tick, hour=1, run_at_startup=True)], burst=True))
    assert (w.jobs_complete, w.jobs_failed) == (1, 0)
    assert sync_r.llen("ticks:cron:tick") == 1


async def test_arq_cron_job_id_and_shared_names_run_as_in_arq(redis_url: str, sync_r: Any) -> None:
    one_id = [
        arq_cron(tick, minute=10, run_at_startup=True, job_id="singleton"),
        arq_cron(tock, minute=20, run_at_startup=True, job_id="singleton"),
    ]
    w = await burst(worker(redis_url, cron_jobs=one_id, burst=True))
    assert w.jobs_complete == 1  # one id: one run at a time
    sync_r.flushall()
    same_name = [
        arq_cron(tick, minute=10, run_at_startup=True),
        arq_cron(tick, minute=20, run_at_startup=True),
    ]
    w = await burst(worker(redis_url, cron_jobs=same_name, burst=True))
    assert w.jobs_complete == 1  # same name, same start: one run id
    sync_r.flushall()
    two_ids = [
        arq_cron(tick, minute=10, run_at_startup=True, job_id="a"),
        arq_cron(tick, minute=20, run_at_startup=True, job_id="b"),
    ]
    w = await burst(worker(redis_url, cron_jobs=two_ids, burst=True))
    assert w.jobs_complete == 2


async def test_arq_cron_beside_functions_runs_each_slot_once_across_workers(
    redis_url: str, sync_r: Any
) -> None:
    every_second = [arq_cron(tick, second=None, keep_result=1)]
    workers = [worker(redis_url, functions=[add], cron_jobs=every_second) for _ in range(2)]
    runs = [asyncio.create_task(w.async_run()) for w in workers]
    try:
        await asyncio.sleep(2.6)
    finally:
        for w in workers:
            w.request_stop()
        await asyncio.wait_for(asyncio.gather(*runs), 15)
        for w in workers:
            await w.close()
    slots = [s.decode() for s in sync_r.lrange("ticks:cron:tick", 0, -1)]
    assert len(slots) >= 2 and len(slots) == len(set(slots))  # every slot ran, and only once
    moments = sorted(datetime.fromisoformat(s) for s in slots)
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(moments))
    assert all(m.microsecond == 0 and m.tzinfo is not None for m in moments)
    assert sum(w.jobs_complete for w in workers) == len(slots)
    assert moments[-1] <= datetime.now(UTC)
