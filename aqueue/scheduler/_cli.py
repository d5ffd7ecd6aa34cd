"""The ``cron`` command group: ``cron next``, ``cron list``, ``cron pause/resume/trigger``.

Mounted into the main CLI with ``from aqueue.scheduler._cli import cron``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from aqueue._cli_support import friendly
from aqueue._cli_support import with_client as run_with_client
from aqueue._clock import iso_utc
from aqueue._imports import import_string
from aqueue._redis.connection import resolve_settings
from aqueue.errors import ConfigurationError
from aqueue.scheduler._definition import CronJob, cron_definitions
from aqueue.scheduler._expression import parse_expression
from aqueue.scheduler._formatting import (
    JOB_HEADER,
    LIVE_HEADER,
    format_table,
    format_time,
    job_record,
    job_rows,
    live_rows,
)
from aqueue.scheduler._registry import list_jobs, pause, resume, trigger
from aqueue.scheduler._schedule import next_runs
from aqueue.scheduler._zones import resolve_zone, zone_name

if TYPE_CHECKING:
    from aqueue.client import Client

_NOW_HELP = "Compute from this ISO 8601 instant instead of the current time."
_REDIS_HELP = "Redis URL (default: AQUEUE_REDIS_URL)."
T = TypeVar("T")


def _parse_now(text: str | None) -> datetime:
    """Return the ``--now`` instant (naive means UTC), or the current time."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date-time", param_hint="--now") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group(name="cron")
def cron() -> None:
    """Inspect cron schedules and cron jobs."""


@cron.command(name="next")
@click.argument("expression")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone the expression is read in.")
@click.option("-n", "count", default=5, show_default=True, type=click.IntRange(1, 10_000), help="How many.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (ISO-8601 UTC times).")
@click.option("--now", "now_text", default=None, hidden=True, help=_NOW_HELP)
@friendly
def next_command(expression: str, tz: str, count: int, as_json: bool, now_text: str | None) -> None:
    """Print the next run times of EXPRESSION, in the zone, with UTC offsets."""
    parsed = parse_expression(expression)
    zone = resolve_zone(tz)
    runs = next_runs(parsed, zone, _parse_now(now_text), count)
    if as_json:
        record = {"expression": parsed.text, "tz": zone_name(zone), "next": [iso_utc(r) for r in runs]}
        click.echo(json.dumps(record))
    else:
        click.echo("\n".join(format_time(run) for run in runs) or "(no further runs)")


def load_cron_jobs(path: str) -> list[CronJob]:
    """Import ``module.Attr`` (current directory on sys.path) and return its ``cron_jobs``.

    Raises:
        ConfigurationError: a one-line reason (bad path, missing attribute, wrong type).

    """
    return _cron_jobs_of(import_string(path), path)


def _cron_jobs_of(settings: object, path: str) -> list[CronJob]:
    """Return the ``cron_jobs`` of a settings class or mapping, checking their type (arq's converted)."""
    return _checked_jobs(_option(settings, "cron_jobs", []), path, _option(settings, "timezone", None))


def _option(settings: object, name: str, default: Any) -> Any:
    return settings.get(name, default) if isinstance(settings, dict) else getattr(settings, name, default)


def _checked_jobs(jobs: object, path: str, tz: Any = None) -> list[CronJob]:
    """Return ``jobs`` as CronJobs (arq's converted, in zone ``tz``), else raise ConfigurationError."""
    if not isinstance(jobs, list | tuple):
        raise ConfigurationError(f"{path}.cron_jobs must be a list of CronJob (made with cron(...))")
    try:
        return cron_definitions(jobs, tz=tz)
    except ConfigurationError as e:
        raise ConfigurationError(
            f"{path}.cron_jobs must be a list of CronJob (made with cron(...)): {e}"
        ) from None


def with_client(redis_url: str | None, action: Callable[[Client], Awaitable[T]]) -> T:
    """Run ``action`` with a client on ``redis_url`` (one connection attempt).

    Errors (Redis failures among them: the registry's calls translate them) reach the CLI's one
    error handler (``friendly``).
    """
    settings = resolve_settings(redis_url)
    settings.conn_retries = 0  # one connection attempt
    return run_with_client(settings, action)


def list_live(redis_url: str | None, as_json: bool) -> None:
    """List the cron jobs registered in Redis by running workers (table or JSON)."""
    entries = with_client(redis_url, list_jobs)
    if as_json:
        click.echo(json.dumps([entry.to_record() for entry in entries]))
    elif not entries:
        click.echo("(no cron jobs registered)")
    else:
        click.echo(format_table(live_rows(entries), header=LIVE_HEADER))


def print_jobs(jobs: Sequence[CronJob], now: datetime, count: int, as_json: bool) -> None:
    """Print cron jobs as a table, or as JSON."""
    if as_json:
        click.echo(json.dumps([job_record(job, now, count) for job in jobs]))
    elif not jobs:
        click.echo("(no cron jobs)")
    else:
        click.echo(format_table(job_rows(jobs, now, count), header=JOB_HEADER))


@cron.command(name="list")
@click.argument("settings", required=False)
@click.option(
    "--next", "count", default=3, show_default=True, type=click.IntRange(1, 1000), help="Runs shown."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (ISO-8601 UTC times).")
@click.option("--redis", "redis_url", metavar="URL", help=_REDIS_HELP)
@click.option("--now", "now_text", default=None, hidden=True, help=_NOW_HELP)
@friendly
def list_command(
    settings: str | None, count: int, as_json: bool, redis_url: str | None, now_text: str | None
) -> None:
    """List the cron jobs of SETTINGS (module.Attr) with their next run times (no Redis needed).

    Without SETTINGS, list the jobs live workers registered in Redis, with their last run.
    """
    if settings is None:
        list_live(redis_url, as_json)
        return
    jobs = load_cron_jobs(settings)
    print_jobs(jobs, _parse_now(now_text), count, as_json)


@cron.command(name="pause")
@click.argument("name")
@click.option("--redis", "redis_url", metavar="URL", help=_REDIS_HELP)
@friendly
def pause_command(name: str, redis_url: str | None) -> None:
    """Pause cron job NAME: its slots pass without running (counted as missed)."""
    with_client(redis_url, lambda client: pause(client, name))
    click.echo(f"paused {name}")


@cron.command(name="resume")
@click.argument("name")
@click.option("--redis", "redis_url", metavar="URL", help=_REDIS_HELP)
@friendly
def resume_command(name: str, redis_url: str | None) -> None:
    """Resume cron job NAME from its next slot."""
    with_client(redis_url, lambda client: resume(client, name))
    click.echo(f"resumed {name}")


@cron.command(name="trigger")
@click.argument("name")
@click.option("--redis", "redis_url", metavar="URL", help=_REDIS_HELP)
@friendly
def trigger_command(name: str, redis_url: str | None) -> None:
    """Run cron job NAME once, now; print the run's job id."""

    async def run(client: Client) -> str:
        return (await trigger(client, name)).job_id

    click.echo(with_client(redis_url, run))
