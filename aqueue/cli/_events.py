"""``aqueue events``: print the job lifecycle events of one queue or of all (see :mod:`aqueue.events`)."""

from __future__ import annotations

from typing import Any

import click

from aqueue._cli_support import friendly, with_client
from aqueue.cli._json import dumps
from aqueue.client import Client
from aqueue.events import Event

JSON_HELP = (
    "Print JSON: one document (a list) without --follow, one object per line with it "
    "(stable field names, ISO-8601 UTC times)."
)


@click.command()
@click.option(
    "--queue", "queues", multiple=True, metavar="Q", help="A queue to show (repeatable; default: all)."
)
@click.option("--follow", "-f", is_flag=True, help="Wait for new events until interrupted (Ctrl-C).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Show at most this many (default: all kept)."
)
@click.option("--since", metavar="POSITION", help="Start after this event position (as --json prints it).")
@click.option("--redis", "redis_url", metavar="URL", help="Redis URL (default: AQUEUE_REDIS_URL).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@friendly
def events(
    queues: tuple[str, ...], follow: bool, redis_url: str | None, as_json: bool, **options: Any
) -> None:
    """Show job events: enqueued, waiting, started, progress, retrying, succeeded, failed, aborted, dead."""

    async def show(client: Client) -> None:
        stream = client.events(list(queues) or None, follow=follow, **options)
        if as_json and not follow:
            click.echo(dumps([e.to_json() async for e in stream]))
            return
        async for event in stream:
            click.echo(dumps(event.to_json()) if as_json else describe(event))

    with_client(redis_url, show)


def describe(event: Event) -> str:
    """Return one line of text for an event."""
    parts = [
        event.time.isoformat(timespec="milliseconds"),
        event.queue,
        f"{event.kind.value:<9}",
        event.task or "?",
        event.job_id,
    ]
    if event.job_try is not None:
        parts.append(f"try {event.job_try}")
    if event.duration is not None:
        parts.append(f"{event.duration:.3f}s")
    if event.error:
        parts.append(event.error)
    if event.reason:
        parts.append(f"over {event.limit or event.reason}")
    if event.kind.value == "progress":
        parts.append(f"{event.progress!r} {event.message}".rstrip())
    return "  ".join(parts)
