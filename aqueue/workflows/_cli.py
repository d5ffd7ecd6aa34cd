"""``aqueue workflow show RUN_ID``: the DAG of a run with each node's state, timing and error."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import click
import orjson

from aqueue._cli_support import friendly, with_client
from aqueue._clock import iso_utc, ms_to_datetime
from aqueue.workflows._run import NodeStatus, WorkflowRun, WorkflowStatus


def _when(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M:%S.%f")[:-3]


def _took(node: NodeStatus) -> str:
    if node.started_ms is None or node.finished_ms is None:
        return "-"
    return f"{node.finished_ms - node.started_ms} ms"


def format_status(status: WorkflowStatus) -> str:
    """Return a table of the run's nodes: id, task, state, parents, start, duration, tries, error."""
    counts = ", ".join(f"{n} {state}" for state, n in sorted(status.counts().items()))
    lines = [
        f"workflow {status.run_id}: {status.state} ({counts})",
        f"started {_when(status.started_ms)} UTC, finished {_when(status.finished_ms)} UTC",
        "",
    ]
    header = ("node", "task", "state", "after", "started", "took", "tries", "error")
    rows = [header] + [
        (
            str(n.id),
            n.task,
            n.state,
            ",".join(map(str, n.parents)) or "-",
            _when(n.started_ms),
            _took(n),
            str(n.tries or "-"),
            n.error or "",
        )
        for n in status.nodes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _iso(ms: int | None) -> str | None:
    return iso_utc(ms_to_datetime(ms))


def status_record(status: WorkflowStatus) -> dict[str, Any]:
    """Return ``workflow show --json``'s document: the status's fields, with ISO-8601 UTC times beside ms."""
    record = dataclasses.asdict(status)
    record["started_at"], record["finished_at"] = _iso(status.started_ms), _iso(status.finished_ms)
    for item, node in zip(record["nodes"], status.nodes, strict=True):
        item["started_at"], item["finished_at"] = _iso(node.started_ms), _iso(node.finished_ms)
    return record


@click.group()
def workflow() -> None:
    """Inspect workflow runs."""


@workflow.command()
@click.argument("run_id")
@click.option("--redis", "redis_url", metavar="URL", help="Redis URL (default: AQUEUE_REDIS_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (ISO-8601 UTC times).")
def show(run_id: str, redis_url: str | None, as_json: bool) -> None:
    """Print the DAG of RUN_ID with each node's state, timing and error."""

    @friendly
    def run() -> None:
        status = with_client(redis_url, lambda client: WorkflowRun(run_id, client).status())
        click.echo(orjson.dumps(status_record(status)).decode() if as_json else format_status(status))

    run()
