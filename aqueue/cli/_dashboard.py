"""``aqueue dashboard``: serve the web dashboard with uvicorn (extra ``aqueue-redis[dashboard]``)."""

from __future__ import annotations

import os
from typing import Any

import click

from aqueue._cli_support import friendly
from aqueue.errors import ConfigurationError

try:  # the dashboard extra: starlette, jinja2, python-multipart, uvicorn, prometheus-client
    import uvicorn

    from aqueue.dashboard import create_app
except ImportError:  # pragma: no cover - exercised only without the extra
    uvicorn = None  # type: ignore[assignment]
    create_app = None  # type: ignore[assignment]

MISSING = "the dashboard needs its extra: pip install 'aqueue-redis[dashboard]'"


@click.command()
@click.option("--redis", "redis_url", metavar="URL", help="Redis URL (default: AQUEUE_REDIS_URL).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8700, show_default=True)
@click.option(
    "--token",
    envvar="AQUEUE_DASHBOARD_TOKEN",
    help="Guard every page and action with this token (also AQUEUE_DASHBOARD_TOKEN).",
)
@click.option("--read-only", is_flag=True, help="Hide actions and refuse them (403).")
@click.option(
    "--queue", "queues", multiple=True, help="A queue to show beside those workers serve (repeatable)."
)
@click.option("--prefix", "key_prefix", default=None, help="Key prefix (default: arq:).")
@friendly
def dashboard(**options: Any) -> None:
    """Serve the web dashboard: queues, jobs, dead letters, cron, workflows, and /metrics."""
    if create_app is None or uvicorn is None:
        raise ConfigurationError(MISSING)
    host, port = options.pop("host"), options.pop("port")
    if host not in ("127.0.0.1", "localhost", "::1") and not options["token"]:
        click.echo(f"warning: serving on {host} without --token: anyone who reaches it can act", err=True)
    app = create_app(
        options.pop("redis_url") or os.environ.get("AQUEUE_REDIS_URL"),
        token=options["token"] or None,
        read_only=options["read_only"],
        queues=options["queues"],
        key_prefix=options["key_prefix"],
    )
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
