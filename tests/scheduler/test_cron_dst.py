"""Fixed DST cases in Europe/Paris and America/New_York, both transitions (2026).

Paris: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z).
New York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aqueue.scheduler import cron

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(expr: str, tz: ZoneInfo, after: datetime, n: int) -> list[str]:
    return [r.astimezone(UTC).strftime("%m-%d %H:%M") for r in cron(expr, "t", tz=tz).next_runs(after, n)]


def local(expr: str, tz: ZoneInfo, after: datetime, n: int) -> list[str]:
    return [r.isoformat() for r in cron(expr, "t", tz=tz).next_runs(after, n)]


def test_paris_spring_skipped_time_runs_once_at_transition() -> None:
    assert local("30 2 * * *", PARIS, datetime(2026, 3, 28, 12, tzinfo=PARIS), 2) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_paris_fall_repeated_time_runs_once_at_first_occurrence() -> None:
    assert local("30 2 * * *", PARIS, datetime(2026, 10, 24, 12, tzinfo=PARIS), 2) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_new_york_spring_and_fall() -> None:
    assert local("30 2 * * *", NEW_YORK, datetime(2026, 3, 7, 12, tzinfo=NEW_YORK), 2) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]
    # 02:30 is not repeated in New York (01:00-02:00 is); 01:30 is.
    assert local("30 2 * * *", NEW_YORK, datetime(2026, 10, 31, 12, tzinfo=NEW_YORK), 2) == [
        "2026-11-01T02:30:00-05:00",
        "2026-11-02T02:30:00-05:00",
    ]
    assert local("30 1 * * *", NEW_YORK, datetime(2026, 10, 31, 12, tzinfo=NEW_YORK), 2) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_paris_hourly_across_both_transitions() -> None:
    assert utc("0 * * * *", PARIS, datetime(2026, 3, 28, 23, 30, tzinfo=UTC), 4) == [
        "03-29 00:00",  # 01:00 CET
        "03-29 01:00",  # 03:00 CEST (02:00 does not exist and collapses into it)
        "03-29 02:00",
        "03-29 03:00",
    ]
    assert utc("0 * * * *", PARIS, datetime(2026, 10, 24, 22, 30, tzinfo=UTC), 4) == [
        "10-24 23:00",  # 01:00 CEST
        "10-25 00:00",  # 02:00 CEST, first occurrence
        "10-25 02:00",  # 03:00 CET; 02:00 CET (01:00Z) is not run again
        "10-25 03:00",
    ]


def test_new_york_hourly_across_both_transitions() -> None:
    assert utc("0 * * * *", NEW_YORK, datetime(2026, 3, 8, 5, 30, tzinfo=UTC), 3) == [
        "03-08 06:00",  # 01:00 EST
        "03-08 07:00",  # 03:00 EDT
        "03-08 08:00",
    ]
    assert utc("0 * * * *", NEW_YORK, datetime(2026, 11, 1, 3, 30, tzinfo=UTC), 4) == [
        "11-01 04:00",  # 00:00 EDT
        "11-01 05:00",  # 01:00 EDT
        "11-01 07:00",  # 02:00 EST; 01:00 EST (06:00Z) is not run again
        "11-01 08:00",
    ]


def test_paris_quarter_hours_across_spring() -> None:
    assert local("*/15 * * * *", PARIS, datetime(2026, 3, 29, 1, 40, tzinfo=PARIS), 3) == [
        "2026-03-29T01:45:00+01:00",
        "2026-03-29T03:00:00+02:00",  # 02:00, 02:15, 02:30, 02:45 and 03:00: one run
        "2026-03-29T03:15:00+02:00",
    ]


def test_paris_quarter_hours_across_fall() -> None:
    assert local("*/15 * * * *", PARIS, datetime(2026, 10, 25, 1, 50, tzinfo=PARIS), 6) == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:15:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:45:00+02:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T03:15:00+01:00",
    ]


def test_after_in_second_pass_of_repeated_hour() -> None:
    second_pass = datetime(2026, 10, 25, 2, 20, fold=1, tzinfo=PARIS)
    assert second_pass.astimezone(UTC).hour == 1
    assert local("*/15 * * * *", PARIS, second_pass, 2) == [
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T03:15:00+01:00",
    ]
    assert local("0 * * * *", PARIS, second_pass, 1) == ["2026-10-25T03:00:00+01:00"]
    first_pass = second_pass.replace(fold=0)
    assert local("*/15 * * * *", PARIS, first_pass, 1) == ["2026-10-25T02:30:00+02:00"]


def test_exactly_at_transition_instant() -> None:
    transition = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    job = cron("30 2 * * *", "t", tz=PARIS)
    assert job.next_run(transition - timedelta(microseconds=1)) == transition
    nxt = job.next_run(transition)
    assert nxt is not None and nxt.isoformat() == "2026-03-30T02:30:00+02:00"


@pytest.mark.parametrize("tz", [PARIS, NEW_YORK])
@pytest.mark.parametrize("expr", ["0 * * * *", "*/15 * * * *", "30 2 * * *", "*/7 1-3 * * *"])
@pytest.mark.parametrize("month", [3, 10, 11])
def test_no_duplicates_no_wall_twice_strictly_increasing(tz: ZoneInfo, expr: str, month: int) -> None:
    start = datetime(2026, month, 1, tzinfo=UTC)
    runs = cron(expr, "t", tz=tz).slots_between(start, start + timedelta(days=31))
    instants = [r.timestamp() for r in runs]
    assert instants == sorted(set(instants))
    walls = [r.replace(tzinfo=None) for r in runs]
    assert len(walls) == len(set(walls))
    assert all(r.tzinfo is tz for r in runs)


def test_seconds_field_across_spring_gap_collapses_an_hour_of_slots() -> None:
    job = cron("* * * * * *", "t", tz=PARIS)
    before = datetime(2026, 3, 29, 0, 59, 58, tzinfo=UTC)
    assert [r.isoformat() for r in job.slots_between(before, before + timedelta(seconds=4))] == [
        "2026-03-29T01:59:59+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:00:01+02:00",
        "2026-03-29T03:00:02+02:00",
    ]


def test_lord_howe_half_hour_shifts() -> None:
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    # 2026-10-04 02:00 +10:30 -> 02:30 +11:00; 2026-04-05 02:00 +11:00 -> 01:30 +10:30
    assert local("15 2 * * *", lord_howe, datetime(2026, 10, 3, 12, tzinfo=lord_howe), 2) == [
        "2026-10-04T02:30:00+11:00",
        "2026-10-05T02:15:00+11:00",
    ]
    assert local("45 1 * * *", lord_howe, datetime(2026, 4, 4, 12, tzinfo=lord_howe), 2) == [
        "2026-04-05T01:45:00+11:00",
        "2026-04-06T01:45:00+10:30",
    ]
