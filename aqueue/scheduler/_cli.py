"""The ``cron`` command group: ``cron next`` and ``cron list``.

Mounted into the main CLI with ``from aqueue.scheduler._cli import cron``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NoReturn

import click

from aqueue.errors import ConfigurationError
from aqueue.scheduler.definition import CronJob
from aqueue.scheduler.expression import parse_expression
from aqueue.scheduler.formatting import JOB_HEADER, format_table, format_time, job_record, job_rows
from aqueue.scheduler.schedule import next_runs
from aqueue.scheduler.zones import resolve_zone, zone_name

_NOW_HELP = "Compute from this ISO 8601 instant instead of the current time."


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _parse_now(text: str | None) -> datetime:
    """Return the ``--now`` instant (naive means UTC), or the current time."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--now {text!r} is not an ISO 8601 date-time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group(name="cron")
def cron() -> None:
    """Inspect cron schedules and cron jobs."""


@cron.command(name="next")
@click.argument("expression")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone the expression is read in.")
@click.option("-n", "count", default=5, show_default=True, type=click.IntRange(1, 10_000), help="How many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--now", "now_text", default=None, hidden=True, help=_NOW_HELP)
def next_command(expression: str, tz: str, count: int, as_json: bool, now_text: str | None) -> None:
    """Print the next run times of EXPRESSION, in the zone, with UTC offsets."""
    try:
        parsed = parse_expression(expression)
        zone = resolve_zone(tz)
    except ConfigurationError as error:
        fail(str(error))
    runs = next_runs(parsed, zone, _parse_now(now_text), count)
    if as_json:
        record = {"expression": parsed.text, "tz": zone_name(zone), "next": [r.isoformat() for r in runs]}
        click.echo(json.dumps(record, indent=2))
    else:
        click.echo("\n".join(format_time(run) for run in runs) or "(no further runs)")


def load_cron_jobs(path: str) -> list[CronJob]:
    """Import ``module.Attr`` (current directory on sys.path) and return its ``cron_jobs``.

    Raises:
        ConfigurationError: a one-line reason (bad path, missing attribute, wrong type).

    """
    module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ConfigurationError(f"settings path {path!r} must look like module.Attribute")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(f"cannot import {module_name!r} for {path!r}: {error}") from None
    try:
        settings = getattr(module, attribute)
    except AttributeError:
        raise ConfigurationError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return _cron_jobs_of(settings, path)


def _cron_jobs_of(settings: object, path: str) -> list[CronJob]:
    """Return the ``cron_jobs`` of a settings class or mapping, checking their type."""
    if isinstance(settings, dict):
        return _checked_jobs(settings.get("cron_jobs", []), path)
    return _checked_jobs(getattr(settings, "cron_jobs", []), path)


def _checked_jobs(jobs: object, path: str) -> list[CronJob]:
    """Return ``jobs`` as a list if it is a list or tuple of CronJob, else raise ConfigurationError."""
    if not isinstance(jobs, list | tuple) or not all(isinstance(job, CronJob) for job in jobs):
        raise ConfigurationError(f"{path}.cron_jobs must be a list of CronJob (made with cron(...))")
    return list(jobs)


def list_live(count: int, as_json: bool) -> NoReturn:
    """List the cron jobs registered in Redis by running workers.

    TODO(lead): wire to the live registry once the core (client, keys) exists.
    """
    fail("live registry not available yet", code=1)


def print_jobs(jobs: Sequence[CronJob], now: datetime, count: int, as_json: bool) -> None:
    """Print cron jobs as a table, or as JSON."""
    if as_json:
        click.echo(json.dumps([job_record(job, now, count) for job in jobs], indent=2))
    elif not jobs:
        click.echo("(no cron jobs)")
    else:
        click.echo(format_table(job_rows(jobs, now, count), header=JOB_HEADER))


@cron.command(name="list")
@click.argument("settings", required=False)
@click.option(
    "--next", "count", default=3, show_default=True, type=click.IntRange(1, 1000), help="Runs shown."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--now", "now_text", default=None, hidden=True, help=_NOW_HELP)
def list_command(settings: str | None, count: int, as_json: bool, now_text: str | None) -> None:
    """List the cron jobs of SETTINGS (module.Attr) with their next run times.

    Without SETTINGS, list the jobs registered by live workers in Redis.
    """
    if settings is None:
        list_live(count, as_json)
    try:
        jobs = load_cron_jobs(settings)
    except ConfigurationError as error:
        fail(str(error))
    print_jobs(jobs, _parse_now(now_text), count, as_json)
