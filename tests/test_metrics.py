"""Prometheus metrics as a worker extension, against a real worker and Redis; /metrics over real HTTP."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from aqueue import Client, task
from aqueue.contrib.prometheus import METRICS, PrometheusMetrics
from aqueue.embedded import free_port
from aqueue.workflows import chain, sig
from tests.outcome_tasks import add, again, boom
from tests.support import eventually
from tests.test_dead import make_dead

GATE: dict[str, asyncio.Event] = {}


@task
async def ok(ctx: dict[str, Any]) -> int:
    return 1


@task
async def held(ctx: dict[str, Any]) -> None:
    await GATE["held"].wait()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_outcomes_durations_retries_and_running(client: Client, run_worker: Any) -> None:
    registry = CollectorRegistry()
    GATE["held"] = asyncio.Event()
    q = client.default_queue
    async with run_worker([ok, boom, again, held], extensions=[PrometheusMetrics(registry)]):
        for name in ("ok", "ok", "boom", "again"):
            await client.enqueue(name)
        blocked = await client.enqueue("held")
        assert blocked is not None
        await eventually(lambda: value(registry, "aqueue_jobs_running", queue=q) == 1, "held to be running")
        GATE["held"].set()
        await blocked.result(timeout=5)
        await eventually(
            lambda: value(registry, "aqueue_jobs_total", queue=q, task="again", outcome="succeeded"), "again"
        )
        assert value(registry, "aqueue_jobs_total", queue=q, task="ok", outcome="succeeded") == 2
        assert value(registry, "aqueue_jobs_total", queue=q, task="boom", outcome="failed") == 1
        assert value(registry, "aqueue_jobs_total", queue=q, task="again", outcome="retried") == 1
        assert value(registry, "aqueue_retries_total", queue=q, task="again") == 1
        assert value(registry, "aqueue_job_duration_seconds_count", queue=q, task="ok") == 2
        assert value(registry, "aqueue_pickup_latency_seconds_count", queue=q) == 6  # every attempt started
        assert value(registry, "aqueue_pickup_latency_seconds_bucket", queue=q, le="+Inf") == 6
        assert value(registry, "aqueue_pickup_latency_seconds_bucket", queue=q, le="0.0005") <= 6
        await eventually(lambda: value(registry, "aqueue_jobs_running", queue=q) == 0, "nothing running")


async def test_pickup_latency_counts_from_the_due_time(client: Client, run_worker: Any) -> None:
    """A deferred job's latency runs from its due time, a handed-over one's from its enqueue."""
    registry = CollectorRegistry()
    q = client.default_queue
    async with run_worker([ok], extensions=[PrometheusMetrics(registry)], poll_delay=0.05):
        await asyncio.sleep(0.2)  # idle: the next enqueue is handed over
        handed = await client.enqueue("ok")
        deferred = await client.enqueue("ok", _defer_by=0.5)
        assert handed is not None and deferred is not None
        await handed.result(timeout=5)
        await deferred.result(timeout=5)
    count = value(registry, "aqueue_pickup_latency_seconds_count", queue=q)
    total = value(registry, "aqueue_pickup_latency_seconds_sum", queue=q)
    assert count == 2
    assert 0 <= total < 0.4  # a deferred job is not late by its deferral (0.5 s); ms resolution: can be 0


async def test_metrics_port_serves_metrics_over_http(client: Client, run_worker: Any) -> None:
    port = free_port()
    async with run_worker([ok], metrics_port=port):
        job = await client.enqueue("ok")
        assert job is not None and await job.result(timeout=5) == 1

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                return reply.read().decode()

        text = await asyncio.to_thread(scrape)
    assert 'aqueue_jobs_total{outcome="succeeded",queue="' in text
    assert "aqueue_pickup_latency_seconds_bucket" in text and "aqueue_jobs_running" in text
    with pytest.raises(OSError):  # the server stopped with the worker
        await asyncio.to_thread(scrape)


def test_a_bad_metrics_port_is_refused_by_the_cli(redis_url: str) -> None:
    from tests.conftest import run_cli

    done = run_cli("worker", "tests.cli_settings.WorkerSettings", "--metrics-port", "0", redis_url=redis_url)
    assert done.returncode == 2 and "metrics-port" in done.stderr


def test_without_the_extra_a_metrics_port_is_a_clear_configuration_error() -> None:
    """prometheus-client blocked from import (as if the extra were not installed)."""
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "import aqueue\n"
        "from aqueue.errors import ConfigurationError\n"
        "assert aqueue.Worker(['asyncio.sleep'], redis_settings='redis://127.0.0.1:1/0').extensions\n"
        "try:\n"
        "    aqueue.Worker(['asyncio.sleep'], redis_settings='redis://127.0.0.1:1/0', metrics_port=9999)\n"
        "except ConfigurationError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "aqueue-redis[metrics]" in done.stdout
    bare = PrometheusMetrics()
    assert bare.services() == [
        bare._read_tally,
        bare._count_runs,
    ]  # with the extra and no port: nothing served


async def test_dead_letters_and_workflow_runs_are_counted(client: Client, run_worker: Any) -> None:
    registry = CollectorRegistry()
    q = client.default_queue
    await make_dead(client, "doomed", deliveries=3)
    async with run_worker([ok, boom, add], extensions=[PrometheusMetrics(registry)], max_deliveries=3):
        good = await chain(sig("add", 1, 2), sig("add", 3)).enqueue(client)
        bad = await chain(sig("boom"), sig("add", 3)).enqueue(client)
        assert await good.result(timeout=5) == 6
        with pytest.raises(ValueError):
            await bad.result(timeout=5)
        await eventually(
            lambda: value(registry, "aqueue_dead_letters_total", queue=q) == 1, "the dead letter"
        )
        await eventually(
            lambda: value(registry, "aqueue_workflow_runs_total", outcome="failed") == 1, "the failed run"
        )
        await eventually(  # counted as its script's tally is read, maybe after the failed one's
            lambda: value(registry, "aqueue_workflow_runs_total", outcome="succeeded") == 1, "the good run"
        )
    assert value(registry, "aqueue_dead_letters_total", queue=q) == 1
    assert value(registry, "aqueue_workflow_runs_total", outcome="succeeded") == 1


def test_the_documented_metrics_are_the_served_ones() -> None:
    """docs/operations.md's table and METRICS name every family served, with its type and labels."""
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    metrics.outcomes["t", "succeeded"] += 1
    metrics.retries["t"] += 1
    metrics.cron_runs["c", "succeeded"] += 1
    metrics.durations["t"].observe(0.1)
    metrics.workflow_runs["succeeded"] += 1
    served = {}
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {k for s in family.samples for k in s.labels if k != "le"}
        served[name] = (family.type, labels)
    assert served == {name: (kind, set(labels)) for name, (kind, labels) in METRICS.items()}
    doc = (Path(__file__).parent.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    for name, (kind, labels) in METRICS.items():
        row = f"| `{name}` | {kind} | {', '.join(f'`{label}`' for label in labels) or '—'} |"
        assert row in doc, f"docs/operations.md lacks the row: {row}"
