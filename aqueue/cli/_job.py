"""``aqueue job ID [--follow] [--json]`` and ``aqueue job abort ID``: one job, seen or acted on."""

from __future__ import annotations

import asyncio
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from aqueue._cli_support import friendly, with_client
from aqueue.cli._json import dumps
from aqueue.client import Client
from aqueue.errors import JobError, ResultNotFound
from aqueue.jobs import JobStatus
from aqueue.monitor import JobView, job_view

JSON_HELP = "Print one JSON document (stable field names, ISO-8601 UTC times) instead of text."
#: How often ``--follow`` looks at the job (seconds).
FOLLOW_EVERY_S = 0.2


class _JobGroup(click.Group):
    """``aqueue job ID`` runs ``show`` (the default); ``aqueue job abort ID`` a named action."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Insert ``show`` unless the first argument names a subcommand (or asks for help)."""
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_JobGroup)
def job() -> None:
    """One job: `aqueue job ID [--follow] [--json]` shows it, `aqueue job abort ID` aborts it."""


@job.command()
@click.argument("job_id")
@click.option("--queue", "queue_name", help="The job's queue (default: the default queue).")
@click.option(
    "--follow", "-f", is_flag=True, help="Show a live progress bar until the job ends, then its result."
)
@click.option("--redis", "redis_url", metavar="URL", help="Redis URL (default: AQUEUE_REDIS_URL).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@friendly
def show(job_id: str, queue_name: str | None, follow: bool, redis_url: str | None, as_json: bool) -> None:
    """Show one job: status, latest progress, result (exit 1 if it failed, with --follow)."""

    async def look(client: Client) -> JobView:
        return await (
            _follow(client, job_id, queue_name, quiet=as_json)
            if follow
            else job_view(client, job_id, queue_name)
        )

    view = with_client(redis_url, look)
    if view.status is JobStatus.not_found and view.result is None:
        raise ResultNotFound(f"no job {job_id!r} (never enqueued, or its result expired)")
    if as_json:
        click.echo(dumps(view))
    else:
        _print(view)
    if follow and view.result is not None and not view.result.success:
        raise JobError(f"job {job_id} failed: {_error(view.result.result)}")


def _print(view: JobView) -> None:
    click.echo(f"job {view.job_id}: {view.status.value}")
    if view.unique is not None:
        click.echo(f"unique key: {view.unique}")
    if view.priority:
        click.echo(f"priority: {view.priority}")
    if view.group is not None:
        click.echo(f"group: {view.group} (claimed in turn with the queue's other groups)")
    if view.waiting is not None:
        click.echo(f"waiting: over its {view.waiting['reason']} limit ({view.waiting['limit']})")
    if view.progress is not None:
        click.echo(
            f"progress: {view.progress.value!r} {view.progress.message} (at {view.progress.at:%H:%M:%S})"
        )
    if view.result is not None:
        outcome = "ok" if view.result.success else "failed"
        click.echo(f"result ({outcome}, try {view.result.job_try}): {view.result.result!r}")


def _error(value: Any) -> str:
    return f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else repr(value)


async def _follow(client: Client, job_id: str, queue_name: str | None, *, quiet: bool) -> JobView:
    """Show a progress bar (on stderr) until the job has a result or is gone; return its last view."""
    console = Console(stderr=True, quiet=quiet)
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(job_id, total=1.0)
        while True:
            view = await job_view(client, job_id, queue_name)
            if view.result is not None or view.status is JobStatus.not_found:
                return view
            fraction, message = _fraction(view)
            bar.update(
                task, completed=fraction, description=f"{job_id} {view.status.value} {message}".rstrip()
            )
            await asyncio.sleep(FOLLOW_EVERY_S)


def _fraction(view: JobView) -> tuple[float, str]:
    """Return the bar's fill (a progress value in 0..1, else 0) and the progress message."""
    if view.progress is None:
        return 0.0, ""
    value = view.progress.value
    fill = float(value) if isinstance(value, int | float) and 0 <= value <= 1 else 0.0
    return fill, view.progress.message or ("" if fill else repr(value))


@job.command()
@click.argument("job_id")
@click.option("--queue", "queue_name", help="The job's queue (default: the default queue).")
@click.option(
    "--wait",
    type=float,
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for a running job to stop.",
)
@click.option("--redis", "redis_url", metavar="URL", help="Redis URL (default: AQUEUE_REDIS_URL).")
@friendly
def abort(job_id: str, queue_name: str | None, wait: float, redis_url: str | None) -> None:
    """Abort JOB_ID: drop it if not started, else cancel it on its worker (exit 1 unless it ends aborted)."""

    async def run(client: Client) -> bool:
        if await client.job(job_id, queue_name).status() is JobStatus.not_found:
            raise ResultNotFound(f"no job {job_id!r} (never enqueued, or its result expired)")
        return await client.job(job_id, queue_name).abort(timeout=wait)

    if not with_client(redis_url, run):
        raise JobError(f"job {job_id} did not end aborted within {wait:g}s (it may have finished first)")
    click.echo(f"aborted {job_id}")
