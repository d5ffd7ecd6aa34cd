"""Cron job definitions: :func:`cron` builds a validated, immutable :class:`CronJob`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Any

from aqueue.errors import ConfigurationError
from aqueue.scheduler._expression import CronExpression, parse_expression
from aqueue.scheduler._policies import MissedPolicy, OverlapPolicy, check_missed, check_overlap
from aqueue.scheduler._schedule import next_runs, runs_between
from aqueue.scheduler._zones import resolve_zone, zone_name

Seconds = float | timedelta


@dataclass(frozen=True, eq=True)
class CronJob:
    """One scheduled task: what to run, when, and what to do about missed or overlapping runs.

    Build it with :func:`cron`, which validates every field.
    """

    name: str
    schedule: str
    task: str
    func: Any
    tz: tzinfo
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(hash=False)
    missed: MissedPolicy
    catchup_window: timedelta
    overlap: OverlapPolicy
    queue: str | None
    timeout: Seconds | None
    keep_result: Seconds | None
    job_id_prefix: str | None
    expression: CronExpression = field(repr=False, compare=False)

    @property
    def tz_name(self) -> str:
        """Return the zone's display name (IANA key when there is one)."""
        return zone_name(self.tz)

    def next_runs(self, after: datetime, n: int) -> list[datetime]:
        """Return the next ``n`` run instants strictly after ``after``, aware in the job's zone.

        Fewer are returned only when the schedule ends (a year field in the past).
        """
        return next_runs(self.expression, self.tz, after, n)

    def next_run(self, after: datetime) -> datetime | None:
        """Return the first run strictly after ``after``, or None if the schedule has ended."""
        runs = next_runs(self.expression, self.tz, after, 1)
        return runs[0] if runs else None

    def slots_between(self, start: datetime, end: datetime, limit: int | None = None) -> list[datetime]:
        """Return the slots in ``(start, end]`` (start exclusive, end inclusive), oldest first."""
        return runs_between(self.expression, self.tz, start, end, limit)


def _task_identity(task_or_name: object) -> tuple[str, Any]:
    """Return the task name and the object to register (None for a bare name)."""
    if isinstance(task_or_name, str):
        if not task_or_name:
            raise ConfigurationError("cron task name must not be empty")
        return task_or_name, None
    name = getattr(task_or_name, "name", None)
    if isinstance(name, str) and name:
        return name, task_or_name
    name = getattr(task_or_name, "__name__", None)
    if callable(task_or_name) and isinstance(name, str) and name != "<lambda>":
        return name, task_or_name
    raise ConfigurationError(
        f"cron task must be a task name, a task or a named function, not {task_or_name!r}"
    )


def _check_duration(label: str, value: Seconds | None) -> None:
    """Raise ConfigurationError unless ``value`` is None or a positive duration."""
    if value is None:
        return
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise ConfigurationError(f"{label} must be a positive number of seconds or timedelta, not {value!r}")


def _check_window(window: object) -> timedelta:
    """Return ``window`` if it is a positive timedelta, else raise ConfigurationError."""
    if not isinstance(window, timedelta) or window <= timedelta(0):
        raise ConfigurationError(f"catchup_window must be a positive timedelta, not {window!r}")
    return window


def cron(
    schedule: str,
    task_or_name: Any,
    *,
    name: str | None = None,
    tz: str | tzinfo | None = None,
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    missed: MissedPolicy = "skip",
    catchup_window: timedelta = timedelta(hours=1),
    overlap: OverlapPolicy = "allow",
    queue: str | None = None,
    timeout: Seconds | None = None,
    keep_result: Seconds | None = None,
    job_id_prefix: str | None = None,
) -> CronJob:
    """Define a cron job running ``task_or_name`` on ``schedule`` in zone ``tz`` (default UTC).

    Raises:
        CronExpressionError: ``schedule`` cannot be read (the message quotes it).
        ConfigurationError: any other argument is invalid.

    """
    expression = parse_expression(schedule)
    task, func = _task_identity(task_or_name)
    if name is not None and (not isinstance(name, str) or not name):
        raise ConfigurationError(f"cron job name must be a non-empty string, not {name!r}")
    _check_duration("timeout", timeout)
    _check_duration("keep_result", keep_result)
    return CronJob(
        name=name or task,
        schedule=expression.text,
        task=task,
        func=func,
        tz=resolve_zone(tz),
        args=tuple(args),
        kwargs=MappingProxyType(dict(kwargs or {})),
        missed=check_missed(missed),
        catchup_window=_check_window(catchup_window),
        overlap=check_overlap(overlap),
        queue=queue,
        timeout=timeout,
        keep_result=keep_result,
        job_id_prefix=job_id_prefix,
        expression=expression,
    )


def check_unique_names(jobs: Iterable[CronJob]) -> None:
    """Raise ConfigurationError if two cron jobs share a name, quoting the name."""
    seen: set[str] = set()
    for job in jobs:
        if job.name in seen:
            raise ConfigurationError(f"two cron jobs are named {job.name!r}; pass name= to tell them apart")
        seen.add(job.name)
