"""Pure text formatting for the ``cron`` CLI: times, job rows and tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aqueue._clock import iso_utc
from aqueue.scheduler._definition import CronJob

if TYPE_CHECKING:
    from aqueue.scheduler._registry import CronEntry

JOB_HEADER = ("NAME", "SCHEDULE", "TZ", "TASK", "NEXT RUNS")


def format_offset(offset: timedelta | None) -> str:
    """Return a UTC offset as ``+HH:MM`` (``+HH:MM:SS`` if it has seconds)."""
    seconds = int((offset or timedelta(0)).total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{secs:02d}" if secs else text


def format_time(moment: datetime) -> str:
    """Return ``2027-01-04 09:00:00 +01:00 (Mon)`` for an aware datetime."""
    return f"{moment:%Y-%m-%d %H:%M:%S} {format_offset(moment.utcoffset())} ({moment:%a})"


def format_table(rows: Iterable[Sequence[str]], header: Sequence[str] | None = None) -> str:
    """Return rows as left-aligned columns separated by two spaces, without trailing blanks."""
    lines = [list(header)] if header is not None else []
    lines += [list(row) for row in rows]
    if not lines:
        return ""
    widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(max(map(len, lines)))]
    text = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in lines]
    return "\n".join(text)


def job_rows(jobs: Iterable[CronJob], now: datetime, n: int) -> list[list[str]]:
    """Return table rows for ``jobs``: one row per job, then one row per further run time."""
    rows: list[list[str]] = []
    for job in jobs:
        runs = [format_time(run) for run in job.next_runs(now, n)] or ["(no further runs)"]
        rows.append([job.name, job.schedule, job.tz_name, job.task, runs[0]])
        rows.extend(["", "", "", "", run] for run in runs[1:])
    return rows


def job_record(job: CronJob, now: datetime, n: int) -> dict[str, object]:
    """Return a JSON-ready description of a job and its next ``n`` runs (ISO 8601, in UTC)."""
    return {
        "name": job.name,
        "schedule": job.schedule,
        "tz": job.tz_name,
        "task": job.task,
        "next": [iso_utc(run) for run in job.next_runs(now, n)],
    }


LIVE_HEADER = ("NAME", "SCHEDULE", "TZ", "TASK", "NEXT RUN", "LAST RUN", "OUTCOME", "DURATION", "STATE")


def format_duration(duration: timedelta | None) -> str:
    """Return ``850 ms`` or ``2.5 s`` (``-`` for None)."""
    if duration is None:
        return "-"
    ms = duration / timedelta(milliseconds=1)
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.3g} s"


def live_rows(entries: Iterable[CronEntry]) -> list[list[str]]:
    """Return one table row per registered cron job."""
    return [
        [
            e.name,
            e.schedule,
            e.tz,
            e.task,
            format_time(e.next_run) if e.next_run else "-",
            format_time(e.last_run) if e.last_run else "-",
            e.last_outcome or "-",
            format_duration(e.last_duration),
            "paused" if e.paused else "active",
        ]
        for e in entries
    ]
