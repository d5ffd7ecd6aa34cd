"""Missed-run and overlap policies as the runner applies them in Redis, and pause."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from aqueue.scheduler import ManualClock, cron, slot_id
from aqueue.scheduler._catchup import overlap_decision

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


def hashed(sync_r, name: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in sync_r.hgetall(f"arq:cron:job:{name}").items()}


def run_slots(claims) -> list[datetime]:
    return [c.slot for c in claims if c.status == "run"]


@pytest.mark.parametrize(
    ("missed", "window", "on_restart", "at_next_slot", "missed_count"),
    [
        # down from 10:00 to 15:30: slots 11:00 … 15:00 passed with no worker up
        ("skip", 6, [], [16], 5),
        ("latest", 6, [15], [16], 4),
        ("all", 6, [11, 12, 13, 14, 15], [16], 0),
        ("all", 2, [14, 15], [16], 3),  # 13:30 is the catch-up window's start
        ("latest", 0.25, [], [16], 5),  # 15:00 is older than the window
    ],
)
async def test_missed_policy_after_downtime(
    make_runners, sync_r, missed, window, on_restart, at_next_slot, missed_count
) -> None:
    job = cron("0 * * * *", "tick", missed=missed, catchup_window=timedelta(hours=window))
    clock = ManualClock(T0)
    (before,) = make_runners([job], clock)
    assert run_slots(await before.step()) == [T0]

    clock.set(T0 + 5.5 * HOUR)  # a new worker starts after the downtime
    (after,) = make_runners([job], clock, n=1)
    assert [s.hour for s in run_slots(await after.step())] == on_restart
    clock.set(after.next_wakeup())
    assert [s.hour for s in run_slots(await after.step())] == at_next_slot
    state = hashed(sync_r, "tick")
    assert int(state.get("missed", 0)) == missed_count
    assert state["last_slot"] == str(slot_id(T0 + 6 * HOUR))
    assert sync_r.zcard("arq:queue") == 2 + len(on_restart)


async def test_missed_all_catches_up_more_than_one_batch(make_runners, walk, sync_r) -> None:
    job = cron("* * * * * *", "tick", missed="all", catchup_window=timedelta(hours=1))
    clock = ManualClock(T0)
    (runner,) = make_runners([job], clock)
    await runner.step()
    clock.set(T0 + timedelta(minutes=25))  # 1500 one-second slots behind: two batches
    claims = await walk([runner], clock, clock.now())
    assert len(run_slots(claims)) == 1500
    assert sync_r.zcard("arq:queue") == 1501


# A buffered slot without a running previous run is released before any new slot is decided,
# so (running=0, buffered=1) never reaches the decision.
STATES = [(0, 0), (1, 0), (1, 1)]


@pytest.mark.parametrize(
    ("policy", "running", "buffered"),
    [(p, r, b) for p, (r, b) in itertools.product(["allow", "skip", "buffer_one"], STATES)],
)
async def test_lua_overlap_decision_matches_the_pure_one(make_runners, sync_r, policy, running, buffered):
    job = cron("0 * * * *", "tick", overlap=policy)
    clock = ManualClock(T0)
    (runner,) = make_runners([job], clock)
    await runner.start()
    sync_r.hset("arq:cron:job:tick", "current", "previous")
    if running:
        sync_r.set("arq:job:previous", b"x")
    if buffered:
        sync_r.hset("arq:cron:job:tick", mapping={"buffered_id": "b", "buffered_slot": 1})
    (claim,) = await runner.step()
    assert claim.status == overlap_decision(policy, bool(running), bool(buffered))


async def test_overlap_skip_records_skipped_slots_while_the_previous_run_goes(make_runners, sync_r):
    job = cron("0 * * * *", "tick", overlap="skip")
    clock = ManualClock(T0)
    (runner,) = make_runners([job], clock)
    statuses = []
    for hour in range(4):
        clock.set(T0 + hour * HOUR)
        if hour == 3:  # the first run finishes (finish.lua deletes the job key)
            sync_r.delete(f"arq:job:cron:tick:{slot_id(T0)}")
        statuses += [c.status for c in await runner.step()]
    assert statuses == ["run", "skip", "skip", "run"]
    assert hashed(sync_r, "tick")["skipped"] == "2"


async def test_overlap_allow_runs_beside_the_previous_run(make_runners, sync_r):
    job = cron("0 * * * *", "tick")
    clock = ManualClock(T0)
    (runner,) = make_runners([job], clock)
    for hour in range(3):
        clock.set(T0 + hour * HOUR)
        assert [c.status for c in await runner.step()] == ["run"]
    assert sync_r.zcard("arq:queue") == 3


async def test_overlap_buffer_one_keeps_one_slot_and_releases_it_when_the_run_ends(make_runners, sync_r):
    job = cron("0 * * * *", "tick", overlap="buffer_one")
    clock = ManualClock(T0)
    (runner,) = make_runners([job], clock)
    statuses = []
    for hour in range(3):
        clock.set(T0 + hour * HOUR)
        statuses += [c.status for c in await runner.step()]
    assert statuses == ["run", "buffer", "skip"]
    assert sync_r.zcard("arq:queue") == 1
    sync_r.delete(f"arq:job:cron:tick:{slot_id(T0)}")  # the first run ends …
    clock.set(T0 + 3 * HOUR)
    statuses = [c.status for c in await runner.step()]  # … the next claim releases the buffer first
    assert statuses == ["buffer"]  # the released 11:00 run is going, 13:00 waits behind it
    queue = {k.decode(): int(v) for k, v in sync_r.zrange("arq:queue", 0, -1, withscores=True)}
    assert f"cron:tick:{slot_id(T0 + HOUR)}" in queue
    state = hashed(sync_r, "tick")
    assert state["current"] == f"cron:tick:{slot_id(T0 + HOUR)}"
    assert state["buffered_id"] == f"cron:tick:{slot_id(T0 + 3 * HOUR)}"
    assert (state["skipped"], state["runs"]) == ("1", "2")


async def test_paused_slots_are_claimed_as_missed_and_not_caught_up(make_runners, client, sync_r):
    from aqueue.scheduler import pause, resume

    job = cron("0 * * * *", "tick", missed="all", catchup_window=timedelta(days=1))
    clock = ManualClock(T0)
    runners = make_runners([job], clock, n=3)
    await runners[0].step()
    await pause(client, "tick")
    statuses = []
    for hour in (1, 2):
        clock.set(T0 + hour * HOUR)
        for runner in runners:
            statuses += [c.status for c in await runner.step()]
    assert statuses == ["paused", "paused"]  # one claim per slot; the others saw last_slot
    await resume(client, "tick")
    clock.set(T0 + 3 * HOUR)
    assert [s.hour for s in run_slots(await runners[1].step())] == [13]
    assert hashed(sync_r, "tick")["missed"] == "2"
    assert sync_r.zcard("arq:queue") == 2
