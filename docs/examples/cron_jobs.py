"""Cron jobs: schedules in WorkerSettings, their run times across DST, the live registry."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aqueue
from aqueue import JobContext, cron, task
from aqueue.scheduler import list_jobs, pause, resume, trigger

PARIS = ZoneInfo("Europe/Paris")


@task
async def send_report(ctx: JobContext) -> str:
    return f"report for {ctx['scheduled_time']:%Y-%m-%d %H:%M}"  # the slot, even if it runs late


@task(name="cache.refresh")
async def refresh_cache(ctx: JobContext) -> None: ...


@task
async def rollup(ctx: JobContext) -> None: ...


@task
async def add(ctx: JobContext, x: int, y: int) -> int:
    return x + y


# --8<-- [start:settings]
class WorkerSettings:
    functions = [send_report, refresh_cache, rollup, add]
    cron_jobs = [
        cron("0 9 * * mon-fri", send_report, tz="Europe/Paris"),  # 09:00 Paris time, weekdays
        cron("*/15 * * * *", "cache.refresh", missed="latest", overlap="skip"),  # a task by name
        cron("0 * * * *", rollup, missed="all", catchup_window=timedelta(hours=6)),
        cron("0 12 * * mon#2", "add", name="second-monday", args=(1, 1)),  # same task, own name
        cron("0 18 L * *", "add", name="month-end", args=(2, 2), tz="America/New_York"),
    ]


# --8<-- [end:settings]


def dst_rules() -> None:
    # --8<-- [start:dst]
    half_past_two = cron("30 2 * * *", "add", tz="Europe/Paris")
    spring = datetime(2026, 3, 28, 12, tzinfo=PARIS)  # Paris springs forward on 29 March, 02:00 → 03:00
    assert [f"{t:%d %H:%M %Z}" for t in half_past_two.next_runs(spring, 2)] == [
        "29 03:00 CEST",  # 02:30 does not exist that day: it runs once, at the end of the gap
        "30 02:30 CEST",
    ]
    autumn = datetime(2026, 10, 24, 12, tzinfo=PARIS)  # and falls back on 25 October, 03:00 → 02:00
    assert [f"{t:%d %H:%M %Z}" for t in half_past_two.next_runs(autumn, 2)] == [
        "25 02:30 CEST",  # 02:30 happens twice that night: it runs at the first one only
        "26 02:30 CET",
    ]
    hourly = cron("0 * * * *", "add", tz="Europe/Paris")
    runs = hourly.next_runs(datetime(2026, 10, 25, 1, 30, tzinfo=PARIS), 3)
    assert [f"{t:%H:%M %Z}" for t in runs] == ["02:00 CEST", "03:00 CET", "04:00 CET"]
    assert runs[1].timestamp() - runs[0].timestamp() == 7200  # two real hours: no 02:00 CET run
    # --8<-- [end:dst]


async def main() -> None:
    dst_rules()
    async with aqueue.Client() as client:
        # --8<-- [start:registry]
        entries = {entry.name: entry for entry in await list_jobs(client)}  # what live workers registered
        assert entries["month-end"].schedule == "0 18 L * *"
        await pause(client, "month-end")  # its slots pass without running (counted as missed)
        await resume(client, "month-end")
        job = await trigger(client, "second-monday")  # one run now, whatever the schedule
        assert await job.result(timeout=10) == 2
        # --8<-- [end:registry]
