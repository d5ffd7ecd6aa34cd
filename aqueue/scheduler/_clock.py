"""The clock the cron runner reads and sleeps on, injected so tests can drive time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the cron runner needs from time: read it, and sleep until a moment."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...

    async def sleep_until(self, moment: datetime) -> None:
        """Return once ``now() >= moment`` (at once if it already is)."""
        ...


class SystemClock:
    """The real clock: ``datetime.now(UTC)`` and ``asyncio.sleep``."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    async def sleep_until(self, moment: datetime) -> None:
        """Sleep until ``moment``, re-checking after each wake-up (sleeps can end early)."""
        # The loop sleeps on a monotonic clock; the wall clock may lag it, so check again.
        while (delay := (moment - self.now()).total_seconds()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(delay)


class ManualClock:
    """A clock that only moves when told to; sleepers wake when it passes their moment."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _as_utc(start or datetime(2030, 1, 1, tzinfo=UTC))
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        """Return the clock's current time."""
        return self._now

    def set(self, moment: datetime) -> None:
        """Move the clock to ``moment`` (backwards too) and wake sleepers now due."""
        self._now = _as_utc(moment)
        self._wake()

    def advance(self, delta: timedelta | float) -> None:
        """Move the clock forward by ``delta`` (a timedelta or seconds)."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError(f"advance() cannot go backwards ({delta!r}); use set()")
        self.set(self._now + step)

    @property
    def sleepers(self) -> int:
        """Return how many tasks are waiting in :meth:`sleep_until`."""
        return len(self._sleepers)

    async def sleep_until(self, moment: datetime) -> None:
        """Wait until the clock is moved to or past ``moment``."""
        if self._now >= moment:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (moment, waiter)
        self._sleepers.append(entry)
        try:
            await waiter
        finally:
            if entry in self._sleepers:
                self._sleepers.remove(entry)

    def _wake(self) -> None:
        """Resolve the futures of sleepers whose moment has come."""
        for moment, waiter in list(self._sleepers):
            if moment <= self._now and not waiter.done():
                waiter.set_result(None)


def _as_utc(moment: datetime) -> datetime:
    """Return an aware datetime converted to UTC; refuse a naive one."""
    if moment.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)
