from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aqueue.errors import ConfigurationError
from aqueue.scheduler import cron
from aqueue.scheduler._catchup import MAX_CATCHUP, ON_TIME_WINDOW, due_slots, overlap_decision

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def minutes(slots: list[datetime]) -> list[int]:
    return [int((s - T0) / timedelta(minutes=1)) for s in slots]


@pytest.mark.parametrize("missed", ["skip", "latest", "all"])
def test_on_time_slot_runs_under_every_policy(missed: str) -> None:
    job = cron("*/5 * * * *", "t", missed=missed)  # type: ignore[arg-type]
    assert due_slots(job, T0 - timedelta(minutes=5), T0) == [T0]
    assert due_slots(job, T0 - timedelta(minutes=5), T0 + timedelta(milliseconds=999)) == [T0]
    assert due_slots(job, None, T0 + timedelta(milliseconds=500)) == [T0]


@pytest.mark.parametrize("missed", ["skip", "latest", "all"])
def test_slot_already_claimed_is_not_due(missed: str) -> None:
    job = cron("*/5 * * * *", "t", missed=missed)  # type: ignore[arg-type]
    assert due_slots(job, T0, T0) == []
    assert due_slots(job, T0, T0 + timedelta(minutes=2)) == []


def test_skip_drops_missed_slots() -> None:
    job = cron("*/5 * * * *", "t", missed="skip")
    assert due_slots(job, T0 - timedelta(minutes=30), T0 + timedelta(minutes=2)) == []
    assert due_slots(job, T0 - timedelta(minutes=30), T0 + ON_TIME_WINDOW) == []  # window is open there
    assert due_slots(job, T0 - timedelta(minutes=30), T0 + timedelta(minutes=5)) == [
        T0 + timedelta(minutes=5)
    ]


def test_latest_runs_most_recent_missed_slot_once() -> None:
    job = cron("*/5 * * * *", "t", missed="latest")
    now = T0 + timedelta(minutes=17)
    assert minutes(due_slots(job, T0 - timedelta(minutes=5), now)) == [15]


def test_latest_respects_catchup_window() -> None:
    job = cron("0 * * * *", "t", missed="latest", catchup_window=timedelta(minutes=30))
    assert due_slots(job, T0 - timedelta(days=1), T0 + timedelta(minutes=45)) == []
    assert due_slots(job, T0 - timedelta(days=1), T0 + timedelta(minutes=20)) == [T0]


def test_all_runs_every_missed_slot_within_window() -> None:
    job = cron("*/5 * * * *", "t", missed="all", catchup_window=timedelta(minutes=12))
    now = T0 + timedelta(minutes=21)
    assert minutes(due_slots(job, T0 - timedelta(hours=3), now)) == [10, 15, 20]
    assert minutes(due_slots(job, T0 + timedelta(minutes=10), now)) == [15, 20]


def test_all_is_capped_oldest_first() -> None:
    job = cron("* * * * * *", "t", missed="all", catchup_window=timedelta(hours=1))
    now = T0 + timedelta(hours=1)
    slots = due_slots(job, T0 - timedelta(days=1), now)
    assert len(slots) == MAX_CATCHUP
    assert slots[0] == T0 + timedelta(seconds=1)
    rest = due_slots(job, slots[-1], now)
    assert rest[0] == slots[-1] + timedelta(seconds=1)


@pytest.mark.parametrize("missed", ["latest", "all"])
def test_never_ran_means_no_catch_up(missed: str) -> None:
    job = cron("*/5 * * * *", "t", missed=missed)  # type: ignore[arg-type]
    assert due_slots(job, None, T0 + timedelta(minutes=4)) == []


def test_catch_up_across_spring_gap_counts_collapsed_slot_once() -> None:
    paris = ZoneInfo("Europe/Paris")
    job = cron("*/30 * * * *", "t", tz=paris, missed="all", catchup_window=timedelta(hours=3))
    last = datetime(2026, 3, 29, 1, 30, tzinfo=paris)
    now = datetime(2026, 3, 29, 3, 30, tzinfo=paris)
    assert [s.isoformat() for s in due_slots(job, last, now)] == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]


@pytest.mark.parametrize(
    ("policy", "running", "buffered", "decision"),
    [
        ("allow", False, False, "run"),
        ("allow", True, False, "run"),
        ("allow", True, True, "run"),
        ("skip", False, False, "run"),
        ("skip", True, False, "skip"),
        ("skip", True, True, "skip"),
        ("buffer_one", False, False, "run"),
        ("buffer_one", False, True, "run"),
        ("buffer_one", True, False, "buffer"),
        ("buffer_one", True, True, "skip"),
    ],
)
def test_overlap_decision(policy: str, running: bool, buffered: bool, decision: str) -> None:
    assert overlap_decision(policy, running, buffered) == decision  # type: ignore[arg-type]


def test_overlap_decision_refuses_unknown_policy() -> None:
    with pytest.raises(ConfigurationError):
        overlap_decision("queue", True, False)  # type: ignore[arg-type]
