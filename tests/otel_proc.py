"""A producer or a worker process, traced by AqueueInstrumentor into the SDK's in-memory exporter.

``python -m tests.otel_proc produce|work SPANS_FILE``: ``produce`` enqueues the jobs of
tests/test_otel.py inside an app span, ``work`` drains them with a burst worker; either then writes
its finished spans to SPANS_FILE, one JSON object per line. ``AQUEUE_REDIS_URL`` names the Redis.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import aqueue
from aqueue import Retry, task
from aqueue.contrib.otel import AqueueInstrumentor


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


@task(max_tries=3)
async def flaky(ctx: dict[str, Any]) -> str:
    if ctx["job_try"] == 1:
        raise Retry(defer=0)
    return "second"


@task
async def boom(ctx: dict[str, Any]) -> None:
    raise ValueError("no")


def span_json(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    assert context is not None
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent": f"{span.parent.span_id:016x}" if span.parent is not None else None,
        "attributes": dict(span.attributes or {}),
        "links": [f"{link.context.span_id:016x}" for link in span.links],
        "status": span.status.status_code.name,
        "events": [event.name for event in span.events],
    }


async def produce(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("app")
    async with aqueue.Client() as client:
        with tracer.start_as_current_span("request"):
            await client.enqueue("add", 1, 2, _job_id="add-1")
            await client.enqueue("flaky", _job_id="flaky-1")
            await client.enqueue("boom", _job_id="boom-1")
            await client.enqueue_many("add", [(3, 4)])


async def work() -> None:
    worker = aqueue.Worker([add, flaky, boom], burst=True, handle_signals=False, poll_delay=0.05)
    try:
        await worker.async_run()
    finally:
        await worker.close()


def main(role: str, out: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    AqueueInstrumentor().instrument(tracer_provider=provider)
    asyncio.run(produce(provider) if role == "produce" else work())
    out.write_bytes(b"".join(orjson.dumps(span_json(s)) + b"\n" for s in exporter.get_finished_spans()))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
