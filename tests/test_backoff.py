"""The one retry policy of the worker's loops: capped, jittered delays, and a quiet log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time

import pytest
from redis.exceptions import ConnectionError, OutOfMemoryError, ReadOnlyError

from aqueue._backoff import Backoff, every

log = logging.getLogger("tests.backoff")


def test_delays_grow_to_the_cap_and_never_leave_the_bounds() -> None:
    backoff = Backoff("loop", log, base_s=0.05, cap_s=5.0, brisk_s=0)
    delays = [backoff.failed(ConnectionError("down")) for _ in range(200)]
    assert all(0.05 <= d <= 5.0 for d in delays)
    assert [d <= 0.05 * 2**n for n, d in enumerate(delays, 1)] == [True] * 200  # the window doubles
    assert statistics.mean(delays[:3]) < 0.3 < 2.0 < statistics.mean(delays[50:]) < 3.0
    assert max(delays) > 4.5


def test_delays_stay_brisk_early_in_an_outage_then_grow() -> None:
    backoff = Backoff("loop", log, base_s=0.05, cap_s=5.0, brisk_s=0.3, brisk_cap_s=0.4)
    early = [backoff.failed(ConnectionError("down")) for _ in range(100)]
    assert all(0.05 <= d <= 0.4 for d in early)  # a failover: the new primary is noticed soon
    assert max(early) > 0.35
    time.sleep(0.35)
    late = [backoff.failed(ConnectionError("down")) for _ in range(100)]
    assert max(late) > 4 and statistics.mean(late) > 2  # a long outage backs off to the cap
    backoff.succeeded()
    assert backoff.failed(ConnectionError("down")) <= 0.1  # a new outage starts brisk again
    assert all(backoff.failed(ConnectionError("down")) <= 0.4 for _ in range(50))


def test_delays_are_jittered_so_a_fleet_does_not_retry_in_lockstep() -> None:
    fleet = [Backoff("loop", log, brisk_s=0) for _ in range(20)]
    for _ in range(8):
        tick = [backoff.failed(ConnectionError("down")) for backoff in fleet]
        assert len(set(tick)) == len(tick), "two workers drew the same delay"
    assert statistics.pstdev(tick) > 0.3


def test_a_success_starts_over_from_the_base() -> None:
    backoff = Backoff("loop", log, base_s=0.1, cap_s=10.0, brisk_s=0)
    for _ in range(30):
        backoff.failed(ConnectionError("down"))
    assert backoff.failing and backoff.attempts == 30
    backoff.succeeded()
    assert not backoff.failing
    assert 0.1 <= backoff.failed(ConnectionError("down")) <= 0.2


def test_a_failure_is_logged_once_per_kind_and_the_recovery_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tests.backoff")
    backoff = Backoff("worker w: claiming jobs", log, where="redis://h:1/0")
    for _ in range(5):
        backoff.failed(OutOfMemoryError("command not allowed when used memory > 'maxmemory'."))
    for _ in range(3):
        backoff.failed(ReadOnlyError("You can't write against a read only replica."))
    backoff.failed(ValueError("a bug"))
    backoff.succeeded()
    backoff.succeeded()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert [level for level, _ in lines] == ["WARNING", "WARNING", "ERROR", "INFO"]
    assert lines[0][1] == (
        "worker w: claiming jobs failed, retrying with backoff: Redis at redis://h:1/0 refused the write: "
        "it is out of memory (maxmemory reached, noeviction); free memory or raise maxmemory. "
        "Redis said: OOM command not allowed when used memory > 'maxmemory'."
    )
    assert "READONLY You can't write against a read only replica." in lines[1][1]
    assert caplog.records[-2].exc_info is not None, "an unexpected error is logged with its traceback"
    assert lines[3][1] == "worker w: claiming jobs: Redis accepts commands again"


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="0 < base_s <= cap_s"):
        Backoff("loop", log, base_s=2, cap_s=1)


async def test_every_survives_redis_errors_and_logs_each_outage_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[float] = []
    failures = iter([ConnectionError("gone"), OutOfMemoryError("OOM"), None, None])

    async def step() -> None:
        calls.append(asyncio.get_running_loop().time())
        error = next(failures, None)
        if error is not None:
            raise error

    log = logging.getLogger("tests.every")
    with caplog.at_level(logging.INFO, logger="tests.every"):
        loop = asyncio.create_task(every(0.02, step, Backoff("ticking", log), at_start=True))
        while len(calls) < 4:
            await asyncio.sleep(0.01)
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    started = calls[0]
    assert len(calls) >= 4 and calls[1] - started >= 0.015  # first at once, then on the cadence
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert 1 <= len(warnings) <= 2  # one line per kind of failure, not one per tick
    assert any("ticking" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


async def test_every_lets_other_errors_through() -> None:
    async def step() -> None:
        raise ValueError("a bug, not Redis")

    with pytest.raises(ValueError, match="a bug"):
        await asyncio.wait_for(every(0.01, step, Backoff("buggy", logging.getLogger("tests.every"))), 2)
