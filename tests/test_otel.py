"""OpenTelemetry: a traced producer process and a traced worker process share traces through the envelope."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from aqueue import Client
from aqueue.contrib.otel import ENVELOPE_KEY, AqueueInstrumentor
from tests.conftest import ROOT, subprocess_env
from tests.test_interop import plain_arq_worker


async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


def spans_of(role: str, out: Path, redis_url: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.otel_proc", role, str(out)],
        cwd=ROOT,
        env=subprocess_env(redis_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [orjson.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.transport("wire")
def test_producer_and_worker_processes_share_traces(redis_url: str, tmp_path: Path) -> None:
    produced = spans_of("produce", tmp_path / "producer.jsonl", redis_url)
    worked = spans_of("work", tmp_path / "worker.jsonl", redis_url)
    (request,) = [s for s in produced if s["name"] == "request"]
    sends = {s["attributes"].get("messaging.message.id"): s for s in produced if s["kind"] == "PRODUCER"}
    assert {"add-1", "flaky-1", "boom-1"} <= set(sends)
    for send in sends.values():
        assert send["trace_id"] == request["trace_id"] and send["parent"] == request["span_id"]
        assert send["attributes"]["messaging.system"] == "aqueue"
        assert send["attributes"]["messaging.destination.name"] == "arq:queue"
    processes = [s for s in worked if s["kind"] == "CONSUMER"]
    by_job: dict[str, list[dict[str, Any]]] = {}
    for span in processes:
        by_job.setdefault(span["attributes"]["messaging.message.id"], []).append(span)
    assert len(processes) == 5  # add-1, the batch's add, flaky twice, boom
    for job_id in ("add-1", "flaky-1", "boom-1"):
        for span in by_job[job_id]:
            assert span["trace_id"] == request["trace_id"], job_id  # across the two processes
            assert span["parent"] == sends[job_id]["span_id"]
            assert span["name"] == f"process {sends[job_id]['attributes']['aqueue.task']}"
    first, second = sorted(by_job["flaky-1"], key=lambda s: s["attributes"]["aqueue.job.try"])
    assert (first["attributes"]["aqueue.job.try"], second["attributes"]["aqueue.job.try"]) == (1, 2)
    assert second["links"] == [first["span_id"]] and first["links"] == []
    (boom,) = by_job["boom-1"]
    assert boom["status"] == "ERROR" and "exception" in boom["events"]
    (ok,) = by_job["add-1"]
    assert ok["status"] != "ERROR" and ok["attributes"]["messaging.operation.type"] == "process"


async def test_a_traced_job_runs_on_a_plain_arq_worker(redis_url: str) -> None:
    provider, exporter = TracerProvider(), InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = AqueueInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        async with Client(redis_url) as client:
            job = await client.enqueue("add", 20, 22)
            assert job is not None
            payload = orjson.loads(await client.redis.get(client.keys.job(job.job_id)))
            assert "traceparent" in payload[ENVELOPE_KEY]
            worker = plain_arq_worker(redis_url, add)
            try:
                await worker.async_run()
            finally:
                await worker.close()
            assert worker.jobs_complete == 1
            assert await job.result(timeout=5) == 42
    finally:
        instrumentor.uninstrument()
    (send,) = exporter.get_finished_spans()
    assert send.kind is SpanKind.PRODUCER and send.attributes is not None
    assert send.attributes["messaging.message.id"] == job.job_id
    async with Client(redis_url) as client:  # uninstrumented: no span, no context in the envelope
        plain = await client.enqueue("add", 1, 1)
        assert plain is not None
        assert ENVELOPE_KEY not in orjson.loads(await client.redis.get(client.keys.job(plain.job_id)))
    assert len(exporter.get_finished_spans()) == 1
