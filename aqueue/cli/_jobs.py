"""``aqueue jobs``: list jobs by queue, state and task (the listing the dashboard's jobs page shows)."""

from __future__ import annotations

import dataclasses

import click

from aqueue._cli_support import friendly, with_client
from aqueue.cli._json import dumps
from aqueue.inspection import MAX_LIMIT, JobPage, JobState, JobSummary, list_jobs

JSON_HELP = "Print one JSON document (stable field names, ISO-8601 UTC times) instead of text."


@click.command()
@click.option("--queue", "queue_name", help="Queue to list (default: the default queue).")
@click.option(
    "--state",
    type=click.Choice([s.value for s in JobState]),
    default=JobState.ACTIVE.value,
    show_default=True,
    help="active: queued, deferred and running; dead: dead letters (of every queue unless --queue).",
)
@click.option("--task", help="Only jobs of this task name.")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=50, show_default=True)
@click.option(
    "--cursor", type=click.IntRange(min=0), default=0, help="Where to start (the previous next_cursor)."
)
@click.option("--redis", "redis_url", metavar="URL", help="Redis URL (default: AQUEUE_REDIS_URL).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@friendly
def jobs(
    *,
    queue_name: str | None,
    state: str,
    task: str | None,
    limit: int,
    cursor: int,
    redis_url: str | None,
    as_json: bool,
) -> None:
    """List jobs from their queue's sorted set or the dead letters (the keyspace is never scanned)."""
    page: JobPage = with_client(
        redis_url,
        lambda client: list_jobs(
            client, queue=queue_name, state=JobState(state), task=task, limit=limit, cursor=cursor
        ),
    )
    if as_json:
        click.echo(
            dumps({"jobs": [dataclasses.asdict(j) for j in page.jobs], "next_cursor": page.next_cursor})
        )
        return
    if not page.jobs:
        click.echo("no jobs")
    for job in page.jobs:
        click.echo(_line(job))
    if page.next_cursor is not None:
        click.echo(f"more: --cursor {page.next_cursor}")


def _line(job: JobSummary) -> str:
    when = f"  due {job.due_at:%Y-%m-%d %H:%M:%S}" if job.due_at else ""
    return f"{job.job_id}  {job.state}  {job.task}  queue={job.queue}  tries={job.tries}{when}"
