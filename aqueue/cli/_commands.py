"""The ``aqueue`` command line: a thin click layer that parses, delegates and prints one-line errors."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import click
import orjson

from aqueue._cli_support import friendly, run_async, with_client
from aqueue._clock import ms_to_datetime
from aqueue._imports import import_string
from aqueue._logging import LOG_FORMATS, LogFormat, setup_logging
from aqueue._redis.cluster import QueueKeys
from aqueue._version import __version__
from aqueue.cli._json import dumps
from aqueue.client import Client
from aqueue.dead import list_dead, requeue_dead
from aqueue.errors import AqueueError, ConfigurationError
from aqueue.jobs import Job
from aqueue.monitor import QueueStats, WorkerInfo, live_workers, queue_stats
from aqueue.settings import create_worker
from aqueue.worker import Worker

JSON_HELP = "Print one JSON document (stable field names, ISO-8601 UTC times) instead of text."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aqueue")
def main() -> None:
    """aqueue: an asyncio task queue on Redis (arq-compatible), with workflows and cron."""
    logging.getLogger("arq.connections").setLevel(logging.ERROR)  # we report connection failures once


@main.command()
@click.argument("settings")
@click.option("--burst/--no-burst", default=None, help="Exit once the queue is empty.")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    help="Queue to consume (overrides the settings); repeat for several, served in that strict order.",
)
@click.option("--max-jobs", type=click.IntRange(min=1), help="Jobs run at once (overrides the settings).")
@click.option(
    "--metrics-port",
    type=click.IntRange(min=1, max=65535),
    help="Serve Prometheus /metrics on this port (needs the metrics extra).",
)
@click.option(
    "--redis", "redis_settings", metavar="URL", help="Redis URL (overrides settings and AQUEUE_REDIS_URL)."
)
@click.option("-v", "--verbose", is_flag=True, help="Log every job (DEBUG).")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    help="text (default) or json: one object per line, with job_id, task, queue, try on job records.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Exit 0 if a live worker serves the settings' queue, else 1 (for container health checks).",
)
@friendly
def worker(settings: str, verbose: bool, log_format: LogFormat | None, check: bool, **overrides: Any) -> None:
    """Run a worker for SETTINGS, a 'module.WorkerSettings' path, until SIGINT/SIGTERM."""
    settings_cls = import_string(settings)
    setup_logging(verbose, log_format or _settings_log_format(settings_cls))

    queues = overrides.pop("queues")
    if len(queues) == 1:
        overrides["queue_name"] = queues[0]
    elif queues:
        overrides["queues"] = list(queues)

    async def run() -> None:  # the worker is built inside the running loop
        built = create_worker(settings_cls, **overrides)
        if check:
            await _check(built)
            return
        await built.serve()

    run_async(run())


async def _check(worker: Worker) -> None:
    """Return if live workers (fresh heartbeats) serve each of ``worker``'s queues; else a one-line error."""
    prefix = worker.keys.base if isinstance(worker.keys, QueueKeys) else worker.keys.prefix
    async with Client(worker.redis_settings or None, key_prefix=prefix) as client:
        serving = {queue: await live_workers(client, queue) for queue in worker.queue_keys}
    for queue, workers in serving.items():
        live = [w for w in workers if queue in w.queues]
        if not live:
            raise AqueueError(f"no live worker serves queue {queue!r}")
        ids = ", ".join(w.worker_id for w in live)
        click.echo(f"{len(live)} live worker(s) serve queue {queue!r}: {ids}")


def _settings_log_format(settings: Any) -> LogFormat:
    value = getattr(settings, "log_format", "text")
    if value not in LOG_FORMATS:
        raise ConfigurationError(f"log_format must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return value


@main.command()
@click.argument("task")
@click.argument("args", nargs=-1)
@click.option("--queue", "queue_name", help="Queue to send to.")
@click.option("--wait", type=float, default=None, metavar="SECONDS", help="Wait for the result and print it.")
@click.option("--redis", "redis_url", metavar="URL", help="Redis URL (default: AQUEUE_REDIS_URL).")
@friendly
def enqueue(
    task: str, args: tuple[str, ...], queue_name: str | None, wait: float | None, redis_url: str | None
) -> None:
    """Enqueue TASK by name; each ARG is parsed as JSON when it can be (else passed as a string)."""

    def parse(text: str) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text

    async def run(client: Client) -> None:
        job = await client.enqueue(task, *map(parse, args), _queue_name=queue_name)
        if job is None:
            raise AqueueError("a job with that id already exists")
        click.echo(job.job_id)
        if wait is not None:
            click.echo(repr(await _result_or_failure(job, wait)))

    with_client(redis_url, run)


async def _result_or_failure(job: Job[Any], wait: float) -> Any:
    """Return the job's result; its failure becomes an AqueueError (one line, no traceback)."""
    info = await job.wait(timeout=wait)
    if info.success:
        return info.result
    error = info.result
    if isinstance(error, AqueueError):
        raise error
    raise AqueueError(f"job {job.job_id} failed: {type(error).__name__}: {error}")


@main.command()
@click.option("--queue", "queue_name", help="Queue to count (default: the default queue).")
@click.option("--redis", "redis_url", metavar="URL", help="Redis URL (default: AQUEUE_REDIS_URL).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@friendly
def status(queue_name: str | None, redis_url: str | None, as_json: bool) -> None:
    """Show a queue's size and the live workers."""

    async def fetch(client: Client) -> tuple[QueueStats, list[WorkerInfo]]:
        return await queue_stats(client, queue_name), await live_workers(client, queue_name)

    stats, workers = with_client(redis_url, fetch)
    if as_json:
        fields = dataclasses.asdict(stats)
        click.echo(dumps({**fields, "workers": [dataclasses.asdict(w) for w in workers]}))
        return
    click.echo(
        f"queue {stats.queue}{' (paused)' if stats.paused else ''}: {stats.due} due, "
        f"{stats.later_or_running} deferred or running; {stats.dead} dead letters"
    )
    if stats.groups:
        click.echo(f"  {stats.grouped} due in {stats.groups} groups (claimed in turn)")
    for why, count in sorted(stats.held_back.items()):
        click.echo(f"  {count} held back: over a {why} limit")
    click.echo(f"{len(workers)} live workers" + (":" if workers else ""))
    for w in workers:
        click.echo(
            f"  {w.worker_id}  {w.host} pid {w.pid}  {', '.join(w.queues)}  {w.info}  "
            f"(beat {w.seconds_since_beat:.0f}s ago)"
        )


@main.group()
def dead() -> None:
    """Dead letters: jobs that were delivered too often without finishing."""


@dead.command("list")
@click.option("--redis", "redis_url", metavar="URL", help="Redis URL (default: AQUEUE_REDIS_URL).")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@friendly
def dead_list(redis_url: str | None, limit: int, as_json: bool) -> None:
    """List dead jobs with their delivery history."""
    jobs = with_client(redis_url, lambda client: list_dead(client, limit))
    if as_json:
        click.echo(dumps([{**dataclasses.asdict(j), "dead_at": ms_to_datetime(j.dead_at_ms)} for j in jobs]))
        return
    if not jobs:
        click.echo("no dead jobs")
    for job in jobs:
        click.echo(
            f"{job.job_id}  {job.function}  queue={job.queue}  tries={job.tries}  "
            f"deliveries={', '.join(job.history)}"
        )


@dead.command("requeue")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Requeue every dead job.")
@click.option("--redis", "redis_url", metavar="URL", help="Redis URL (default: AQUEUE_REDIS_URL).")
@friendly
def dead_requeue(job_ids: tuple[str, ...], everything: bool, redis_url: str | None) -> None:
    """Put dead jobs (JOB_IDS, or --all) back on their queues."""
    if not job_ids and not everything:
        raise click.UsageError("give job ids or --all")

    count = with_client(redis_url, lambda client: requeue_dead(client, None if everything else list(job_ids)))
    click.echo(f"requeued {count} jobs")
