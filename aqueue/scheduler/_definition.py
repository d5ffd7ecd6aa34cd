"""Cron job definitions: :func:`cron` builds a validated, immutable :class:`CronJob`.

arq's keyword cron jobs (``arq.cron(coroutine, hour=9, minute={0, 30})``) become CronJobs too
(:func:`from_arq`), so a worker given arq's ``cron_jobs`` runs them exactly once per slot.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Any

from arq.cron import CronJob as ArqCronJob
from arq.typing import WEEKDAYS

from aqueue.errors import ConfigurationError, CronExpressionError
from aqueue.scheduler._expression import CronExpression, parse_expression
from aqueue.scheduler._policies import MissedPolicy, OverlapPolicy, check_missed, check_overlap
from aqueue.scheduler._schedule import next_runs, runs_between
from aqueue.scheduler._zones import resolve_zone, zone_name
from aqueue.tasks import task_from_arq

Seconds = float | timedelta

logger = logging.getLogger("aqueue.scheduler")


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
    run_at_startup: bool = False  # also run once when a worker starts (arq's option)
    job_id: str | None = None  # every run has this id, so one runs at a time (arq's option)

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


def _arq_field(label: str, value: object, weekdays: bool = False) -> str:
    """Return one arq cron option (None, an int, a set of ints; weekday names too) as a crontab field."""
    if value is None:
        return "*"
    values = value if isinstance(value, set | frozenset | list | tuple) else [value]
    numbers = sorted({_arq_value(label, v, weekdays) for v in values})
    if not numbers:
        raise ConfigurationError(f"arq cron option {label}={value!r} matches nothing")
    return ",".join(map(str, numbers))


def _arq_value(label: str, value: object, weekdays: bool) -> int:
    if weekdays and isinstance(value, str) and value.lower() in WEEKDAYS:
        value = WEEKDAYS.index(value.lower())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"arq cron option {label}={value!r}: expected an int or a set of ints")
    if not weekdays:
        return value
    if not 0 <= value <= 6:
        raise ConfigurationError(f"arq cron option weekday={value!r}: arq's weekdays are 0 (Monday) to 6")
    return (value + 1) % 7  # crontab counts from Sunday


def arq_schedule(job: ArqCronJob) -> str:
    """Return the crontab expression (seconds last) of an arq cron job's keyword options.

    Raises:
        ConfigurationError: an option is not arq's kind of value, or both ``day`` and ``weekday``
            are set (arq runs on days matching both; crontab on days matching either).

    """
    if job.day is not None and job.weekday is not None:
        raise ConfigurationError(
            f"arq cron job {job.name!r} sets both day and weekday: arq runs on days matching both, "
            "crontab on days matching either; define it with aqueue.cron(...) instead"
        )
    fields = [
        _arq_field("minute", job.minute),
        _arq_field("hour", job.hour),
        _arq_field("day", job.day),
        _arq_field("month", job.month),
        _arq_field("weekday", job.weekday, weekdays=True),
        _arq_field("second", job.second),
    ]
    return " ".join(fields)


def from_arq(job: ArqCronJob, *, tz: tzinfo | None = None, name: str | None = None) -> CronJob:
    """Return aqueue's definition of an arq cron job (``arq.cron(coroutine, hour=…, …)``).

    Its runs are claimed exactly once per slot like any aqueue cron job's; slots fall on whole
    seconds (arq's ``microsecond`` offset is not kept). The task is registered under arq's job name
    (``cron:coroutine``) with the job's ``timeout``, ``keep_result``, ``keep_result_forever`` and
    ``max_tries``; ``run_at_startup`` and ``job_id`` keep arq's meaning. ``unique=False`` (one run
    per worker) is not kept: every slot runs once. ``tz`` is the worker's ``timezone`` (arq's
    default: the system's offset when the worker starts). ``name`` renames it in the registry (two
    arq jobs may share a name; their runs share ids, so a slot both match runs once, as in arq).

    Raises:
        ConfigurationError: see :func:`arq_schedule`; also a value crontab cannot take (hour=25).

    """
    schedule = arq_schedule(job)
    if not job.unique:
        logger.warning("arq cron job %r: unique=False is not kept; each slot runs once", job.name)
    try:
        expression = parse_expression(schedule)
    except CronExpressionError as e:
        raise ConfigurationError(f"arq cron job {job.name!r}: {e}") from None
    func = task_from_arq(job)
    return CronJob(
        name=name or job.name,
        schedule=expression.text,
        task=job.name,
        func=func,
        tz=resolve_zone(tz or datetime.now().astimezone().tzinfo),
        args=(),
        kwargs=MappingProxyType({}),
        missed="skip",
        catchup_window=timedelta(hours=1),
        overlap="allow",
        queue=None,
        timeout=None,
        keep_result=None,
        job_id_prefix=job.name,
        expression=expression,
        run_at_startup=job.run_at_startup,
        job_id=job.job_id,
    )


def cron_definitions(jobs: Iterable[Any], *, tz: tzinfo | None = None) -> list[CronJob]:
    """Return a worker's ``cron_jobs`` as aqueue CronJobs, converting arq's (see :func:`from_arq`).

    arq jobs that share a name are told apart in the registry as ``name#2``, ``name#3``, ….

    Raises:
        ConfigurationError: an entry is neither kind of cron job, or cannot be converted.

    """
    seen: Counter[str] = Counter()
    out: list[CronJob] = []
    for job in jobs:
        if isinstance(job, CronJob):
            out.append(job)
        elif isinstance(job, ArqCronJob):
            seen[job.name] += 1
            count = seen[job.name]
            out.append(from_arq(job, tz=tz, name=job.name if count == 1 else f"{job.name}#{count}"))
        else:
            raise ConfigurationError(f"cron_jobs must be made with aqueue.cron or arq.cron, not {job!r}")
    return out
