"""Next-run maths: the instants at which a cron expression runs in a time zone.

The expression is matched against **wall-clock time in the job's zone**
(croniter works on naive wall times, so it never sees DST), then each matching
wall time is mapped to an instant by :func:`aqueue.scheduler._zones.wall_to_instant`:

* a wall time skipped by spring-forward runs once at the transition instant,
  and all such times (plus a regular slot on that instant) collapse into one run;
* a wall time repeated by fall-back runs once, at its first occurrence.

Runs are strictly increasing instants, returned as aware datetimes in the zone.
croniter is *not* used with aware datetimes: with them it runs a repeated wall
time twice (once per offset), which these rules forbid.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from itertools import islice

from aqueue.scheduler._expression import CronExpression
from aqueue.scheduler._zones import search_start, wall_to_instant

_TICK = timedelta(microseconds=1)


def _require_aware(moment: datetime, name: str) -> None:
    """Raise ValueError if ``moment`` is naive."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")


def iter_runs(expression: CronExpression, zone: tzinfo, after: datetime) -> Iterator[datetime]:
    """Yield the run instants strictly after ``after``, in order, without end (or until none are left)."""
    _require_aware(after, "after")
    wall = search_start(after, zone)
    previous = after
    while (found := expression.next_wall(wall)) is not None:
        run = wall_to_instant(found, zone)
        # A wall time in a gap maps to the gap's end: skip the rest of the gap at once.
        wall = max(found, run.replace(tzinfo=None) - _TICK)
        if run > previous:
            previous = run
            yield run


def next_runs(expression: CronExpression, zone: tzinfo, after: datetime, count: int) -> list[datetime]:
    """Return the next ``count`` runs strictly after ``after`` (fewer if the schedule ends)."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return list(islice(iter_runs(expression, zone, after), count))


def runs_between(
    expression: CronExpression, zone: tzinfo, start: datetime, end: datetime, limit: int | None = None
) -> list[datetime]:
    """Return the runs in ``(start, end]``, oldest first, at most ``limit`` of them."""
    _require_aware(end, "end")
    runs: list[datetime] = []
    for run in iter_runs(expression, zone, start):
        if run > end or (limit is not None and len(runs) >= limit):
            break
        runs.append(run)
    return runs
