"""The runner against a real Redis, on a ManualClock: exactly-once claims, DST and leap-day walks."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import redis as sync_redis

from aqueue.scheduler import ManualClock, cron, slot_id
from aqueue.serialization import job_deserializer

PARIS = ZoneInfo("Europe/Paris")
QUEUE = "arq:queue"


def queued(r: sync_redis.Redis, queue: str = QUEUE) -> dict[str, int]:
    """Return the queue's job ids and scores."""
    return {k.decode(): int(v) for k, v in r.zrange(queue, 0, -1, withscores=True)}


def envelope(r: sync_redis.Redis, job_id: str) -> dict[str, object]:
    raw = r.get(f"arq:job:{job_id}")
    assert raw is not None, job_id
    decoded: dict[str, object] = job_deserializer(raw)
    return decoded


async def test_five_racing_runners_enqueue_each_slot_exactly_once(make_runners, walk, sync_r) -> None:
    job = cron("*/5 * * * *", "tick", args=(7,))
    start, end = datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, 10, tzinfo=UTC)
    clock = ManualClock(start)
    runners = make_runners([job], clock, n=5)
    claims = await walk(runners, clock, end)

    expected = [start, *job.slots_between(start, end)]
    assert len(expected) == 121
    runs = [c for c in claims if c.status == "run"]
    assert sorted(c.slot for c in runs) == expected
    statuses = Counter(c.status for c in claims)
    assert set(statuses) == {"run", "taken"} and statuses["run"] == 121
    # the others tried (a runner that already sees the slot claimed does not even ask): they raced
    assert 121 <= statuses["taken"] <= 4 * 121
    ids = {f"cron:tick:{slot_id(s)}": slot_id(s) for s in expected}
    assert queued(sync_r) == ids  # one job per slot, scored at its slot
    first = envelope(sync_r, f"cron:tick:{slot_id(start)}")
    assert (first["f"], first["a"], first["cron"]) == ("tick", [7], ["tick", slot_id(start)])


async def test_claim_key_refuses_a_slot_even_after_the_registry_is_wiped(make_runners, sync_r) -> None:
    job = cron("0 * * * *", "tick")
    clock = ManualClock(datetime(2030, 1, 1, 9, tzinfo=UTC))
    (first,) = make_runners([job], clock)
    assert [c.status for c in await first.step()] == ["run"]
    sync_r.delete("arq:cron:job:tick")  # last_slot forgotten: only the claim key is left
    (second,) = make_runners([job], clock)
    assert [c.status for c in await second.step()] == ["taken"]
    assert len(queued(sync_r)) == 1
    ttl_ms = sync_r.pttl(f"arq:cron:slot:tick:{slot_id(clock.now())}")
    window_ms = int(job.catchup_window.total_seconds() * 1000)
    assert window_ms < ttl_ms <= window_ms + 600_000  # outlives any slot due_slots can offer


async def test_runs_are_enqueued_ahead_and_workers_woken_at_the_slot(make_runners, sync_r) -> None:
    job = cron("* * * * *", "tick")
    slot = datetime(2030, 1, 1, 9, 1, tzinfo=UTC)
    clock = ManualClock(slot - timedelta(seconds=10))
    (runner,) = make_runners([job], clock)
    assert await runner.step() == []  # nothing due yet (09:00 is past the on-time window)
    assert runner.next_wakeup() == slot - timedelta(milliseconds=50)
    clock.set(slot - timedelta(milliseconds=50))
    sync_r.sadd(f"arq:idle:{QUEUE}", "w1")
    claims = await runner.step()
    assert [(c.slot, c.status) for c in claims] == [(slot, "run")]
    assert queued(sync_r) == {f"cron:tick:{slot_id(slot)}": slot_id(slot)}
    assert sync_r.lpop("arq:wake:w1") == b"1"  # woken at enqueue (they see the head score)
    assert runner.next_wakeup() == slot  # and again at the slot itself
    sync_r.sadd(f"arq:idle:{QUEUE}", "w1")
    clock.set(slot)
    assert await runner.step() == []
    assert sync_r.lpop("arq:wake:w1") == b"1"
    assert runner.next_wakeup() == slot + timedelta(minutes=1) - timedelta(milliseconds=50)


async def test_daily_0230_paris_runs_once_a_day_across_both_dst_changes(make_runners, walk, sync_r) -> None:
    job = cron("30 2 * * *", "tick", tz="Europe/Paris")
    clock = ManualClock(datetime(2026, 3, 20, 12, tzinfo=UTC))
    runners = make_runners([job], clock, n=2)
    claims = await walk(runners, clock, datetime(2026, 11, 4, 12, tzinfo=UTC))
    runs = sorted(c.slot.astimezone(PARIS) for c in claims if c.status == "run")

    days = [run.date() for run in runs]
    assert days[0].isoformat() == "2026-03-21" and days[-1].isoformat() == "2026-11-04"
    assert len(days) == len(set(days)) == (days[-1] - days[0]).days + 1  # one run every day
    by_day = {run.date().isoformat(): run for run in runs}
    assert by_day["2026-03-28"].isoformat() == "2026-03-28T02:30:00+01:00"
    assert by_day["2026-03-29"].isoformat() == "2026-03-29T03:00:00+02:00"  # 02:30 does not exist
    assert by_day["2026-03-30"].isoformat() == "2026-03-30T02:30:00+02:00"
    assert by_day["2026-10-25"].isoformat() == "2026-10-25T02:30:00+02:00"  # first of the two 02:30s
    assert by_day["2026-10-26"].isoformat() == "2026-10-26T02:30:00+01:00"
    assert sorted(queued(sync_r).values()) == [slot_id(run) for run in runs]


async def test_leap_day_and_yearly_jobs_walk_across_years(make_runners, walk) -> None:
    leap = cron("0 12 29 2 *", "tick", name="leap")
    new_year = cron("@yearly", "tick", name="new-year", tz="Pacific/Auckland")
    clock = ManualClock(datetime(2027, 1, 1, tzinfo=UTC))
    runners = make_runners([leap, new_year], clock, n=3)
    claims = await walk(runners, clock, datetime(2041, 1, 1, tzinfo=UTC))
    runs = [c for c in claims if c.status == "run"]

    leap_runs = sorted(c.slot.astimezone(UTC).isoformat() for c in runs if c.name == "leap")
    assert leap_runs == [f"{y}-02-29T12:00:00+00:00" for y in (2028, 2032, 2036, 2040)]
    auckland = ZoneInfo("Pacific/Auckland")
    years = sorted(c.slot.astimezone(auckland).isoformat() for c in runs if c.name == "new-year")
    assert years == [f"{y}-01-01T00:00:00+13:00" for y in range(2028, 2042)]


async def test_run_loop_sleeps_on_the_clock_until_the_next_slot(make_runners, sync_r) -> None:
    job = cron("* * * * * */10", "tick")
    clock = ManualClock(datetime(2030, 1, 1, 0, 0, 5, tzinfo=UTC))
    (runner,) = make_runners([job], clock)
    loop = asyncio.create_task(runner.run())
    try:
        for second in (10, 20, 30):
            await _until(lambda: clock.sleepers == 1)
            clock.set(datetime(2030, 1, 1, 0, 0, second, tzinfo=UTC))
            await _until(lambda n=second // 10: len(queued(sync_r)) == n)
        assert sorted(queued(sync_r).values()) == [
            slot_id(datetime(2030, 1, 1, 0, 0, s, tzinfo=UTC)) for s in (10, 20, 30)
        ]
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_run_loop_survives_an_unreachable_redis(caplog) -> None:
    from redis.asyncio import Redis

    from aqueue.scheduler._runner import CronRunner

    dead = Redis.from_url("redis://127.0.0.1:1/0")
    runner = CronRunner(dead, [cron("* * * * *", "tick")], clock=ManualClock())
    loop = asyncio.create_task(runner.run())
    await asyncio.sleep(0.5)
    assert not loop.done()  # still retrying, with backoff
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    await dead.aclose()
    warnings = [r for r in caplog.records if r.getMessage().startswith("cron: claiming slots failed")]
    assert "lost Redis at redis://127.0.0.1:1/0" in warnings[0].getMessage()
    assert len(warnings) == 1
