"""Fixtures for the scheduler's Redis tests: runners on their own connections, and a clock walker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from aqueue.scheduler import CronJob, ManualClock
from aqueue.scheduler._runner import Claim, CronRunner

MakeRunners = Callable[..., list[CronRunner]]
Walk = Callable[[Sequence[CronRunner], ManualClock, datetime], Awaitable[list[Claim]]]


@pytest.fixture
async def make_runners(redis_url: str) -> AsyncIterator[MakeRunners]:
    """``make_runners(jobs, clock, n=1, **options)``: n runners, each on its own connection."""
    connections: list[Redis] = []

    def make(jobs: Sequence[CronJob], clock: ManualClock, n: int = 1, **options: Any) -> list[CronRunner]:
        runners = []
        for i in range(n):
            connection = Redis.from_url(redis_url)
            connections.append(connection)
            runners.append(CronRunner(connection, jobs, clock=clock, owner=f"runner-{i}", **options))
        return runners

    yield make
    for connection in connections:
        await connection.aclose()


async def walk_clock(runners: Sequence[CronRunner], clock: ManualClock, until: datetime) -> list[Claim]:
    """Step all runners at once, move the clock to their next wake-up, repeat until ``until``."""
    claims: list[Claim] = []
    for _ in range(100_000):
        for batch in await asyncio.gather(*(runner.step() for runner in runners)):
            claims.extend(batch)
        wakes = [w for runner in runners if (w := runner.next_wakeup()) is not None]
        if not wakes or min(wakes) > until:
            return claims
        clock.set(max(min(wakes), clock.now()))
    raise AssertionError("the walk did not end")


@pytest.fixture
def walk() -> Walk:
    return walk_clock
