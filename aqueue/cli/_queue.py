"""``aqueue queue pause|resume|purge NAME`` and ``aqueue queue list``: steering queues."""

from __future__ import annotations

import dataclasses

import click

from aqueue._cli_support import friendly, with_client
from aqueue.cli._json import dumps
from aqueue.client import Client
from aqueue.monitor import QueueStats, known_queues, queue_stats

REDIS_HELP = "Redis URL (default: AQUEUE_REDIS_URL)."


@click.group()
def queue() -> None:
    """Queues: pause, resume, purge, list."""


@queue.command()
@click.argument("name")
@click.option("--redis", "redis_url", metavar="URL", help=REDIS_HELP)
@friendly
def pause(name: str, redis_url: str | None) -> None:
    """Stop workers claiming from queue NAME (enqueues still work; running jobs go on)."""
    changed = with_client(redis_url, lambda client: client.pause_queue(name))
    click.echo(f"queue {name} paused" if changed else f"queue {name} was already paused")


@queue.command()
@click.argument("name")
@click.option("--redis", "redis_url", metavar="URL", help=REDIS_HELP)
@friendly
def resume(name: str, redis_url: str | None) -> None:
    """Let workers claim from queue NAME again (idle ones start at once)."""
    changed = with_client(redis_url, lambda client: client.resume_queue(name))
    click.echo(f"queue {name} resumed" if changed else f"queue {name} was not paused")


@queue.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--redis", "redis_url", metavar="URL", help=REDIS_HELP)
@friendly
def purge(name: str, yes: bool, redis_url: str | None) -> None:
    """Delete the queued and deferred jobs of queue NAME (running jobs are left alone)."""
    if not yes:
        click.confirm(f"delete every waiting job of queue {name}?", abort=True)
    removed = with_client(redis_url, lambda client: client.purge_queue(name))
    click.echo(f"removed {removed} jobs from queue {name}")


@queue.command("list")
@click.option("--redis", "redis_url", metavar="URL", help=REDIS_HELP)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document (stable field names) instead of text."
)
@friendly
def list_queues(redis_url: str | None, as_json: bool) -> None:
    """List the queues live workers serve, the paused ones and the default queue if it holds jobs."""

    async def fetch(client: Client) -> list[QueueStats]:
        return [await queue_stats(client, name) for name in await known_queues(client)]

    rows = with_client(redis_url, fetch)
    if as_json:
        click.echo(dumps([{k: v for k, v in dataclasses.asdict(r).items() if k != "dead"} for r in rows]))
        return
    if not rows:
        click.echo("no queues (no live worker, none paused, no job in the default queue)")
    for r in rows:
        state = "paused" if r.paused else "active"
        click.echo(f"{r.queue}  {state}  {r.due} due, {r.later_or_running} deferred or running")
