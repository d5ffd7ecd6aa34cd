from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aqueue.scheduler import Clock, ManualClock, SystemClock


def test_clocks_satisfy_protocol() -> None:
    assert isinstance(SystemClock(), Clock)
    assert isinstance(ManualClock(), Clock)


async def test_system_clock() -> None:
    clock = SystemClock()
    now = clock.now()
    assert now.tzinfo is UTC
    await clock.sleep_until(now - timedelta(seconds=1))
    await clock.sleep_until(now + timedelta(milliseconds=20))
    assert clock.now() >= now + timedelta(milliseconds=20)


async def test_manual_clock_wakes_sleepers_in_order() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    clock = ManualClock(start)
    woke: list[str] = []

    async def sleeper(label: str, seconds: int) -> None:
        await clock.sleep_until(start + timedelta(seconds=seconds))
        woke.append(label)

    tasks = [asyncio.create_task(sleeper("b", 10)), asyncio.create_task(sleeper("a", 5))]
    await asyncio.sleep(0)
    assert clock.sleepers == 2
    clock.advance(4)
    await asyncio.sleep(0)
    assert woke == []
    clock.advance(timedelta(seconds=1))
    await asyncio.sleep(0)
    assert woke == ["a"]
    clock.set(start + timedelta(minutes=1))
    await asyncio.gather(*tasks)
    assert woke == ["a", "b"]
    assert clock.sleepers == 0


async def test_manual_clock_cancelled_sleeper_is_forgotten() -> None:
    clock = ManualClock()
    task = asyncio.create_task(clock.sleep_until(clock.now() + timedelta(hours=1)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0
    clock.advance(7200)


async def test_manual_clock_past_moment_returns_at_once() -> None:
    clock = ManualClock()
    await clock.sleep_until(clock.now())


def test_manual_clock_normalises_and_refuses() -> None:
    clock = ManualClock(datetime(2030, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    assert clock.now() == datetime(2030, 1, 1, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    with pytest.raises(ValueError):
        clock.set(datetime(2030, 1, 1))
    with pytest.raises(ValueError):
        clock.advance(-1)
