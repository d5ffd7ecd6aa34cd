"""OpenTelemetry tracing for aqueue (extra ``aqueue-redis[otel]``), in the instrumentor convention.

``AqueueInstrumentor().instrument(tracer_provider=...)`` (before workers are built) makes:

- a PRODUCER span around every ``Client.enqueue`` and ``Client.enqueue_many`` (``send TASK``), whose
  context the job carries in its envelope, under the field ``otel`` that this layer owns (W3C trace
  context, as the global propagator writes it; a plain arq worker ignores the field and runs the job);
- a CONSUMER span around every attempt a worker runs (``process TASK``), a child of the producer's,
  with the task's own spans under it; a retry's span links to the previous attempt's span; an
  exception the task raises is recorded on it and sets its status to error.

Attributes follow the messaging semantic conventions: ``messaging.system`` (``aqueue``),
``messaging.destination.name`` (the queue's key), ``messaging.message.id`` (the job id),
``messaging.operation.type`` (``send``/``process``), plus ``aqueue.task`` and ``aqueue.job.try``.
``uninstrument()`` removes the producer patches; workers built while instrumented keep their spans.

Jobs that workflows and cron enqueue inside their own scripts carry no context: their attempts'
spans are roots. The previous attempt of a retry is found in ``{prefix}otel:{job_id}`` (a day's TTL),
written only when an attempt raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags, Tracer
from wrapt import wrap_function_wrapper

import aqueue.client
from aqueue._envelope import JobEnvelope
from aqueue._naming import task_name
from aqueue._redis.connection import text
from aqueue._redis.errors import REDIS_ERRORS
from aqueue._redis.keys import Keys
from aqueue._version import __version__
from aqueue.extensions import Call, WorkerContext, WorkerExtension, register_default

__all__ = ["ENVELOPE_KEY", "AqueueInstrumentor", "TracingExtension"]

#: The envelope field carrying the trace context.
ENVELOPE_KEY = "otel"
SYSTEM = "aqueue"
#: How long a failed attempt's span is remembered for the next attempt's link (ms).
LINK_TTL_MS = 86_400_000

_STATE: dict[str, Tracer | None] = {"tracer": None}
_REGISTERED: list[bool] = []


def _attributes(queue: str, task: str, operation: str) -> dict[str, Any]:
    return {
        "messaging.system": SYSTEM,
        "messaging.destination.name": queue,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "aqueue.task": task,
    }


@contextlib.contextmanager
def _send_span(tracer: Tracer, client: aqueue.client.Client, args: Any, kwargs: Any) -> Iterator[Any]:
    """Open the PRODUCER span of an enqueue call of ``client`` with ``args`` and ``kwargs``."""
    name = _name(args[0] if args else kwargs.get("task"))
    attributes = _attributes(client.queue_key(kwargs.get("_queue_name")), name, "send")
    with tracer.start_as_current_span(f"send {name}", kind=SpanKind.PRODUCER, attributes=attributes) as span:
        yield span


async def _traced_enqueue(wrapped: Any, instance: aqueue.client.Client, args: Any, kwargs: Any) -> Any:
    """Run ``Client.enqueue`` inside a PRODUCER span (the job's envelope carries its context)."""
    tracer = _STATE["tracer"]
    if tracer is None:
        return await wrapped(*args, **kwargs)
    with _send_span(tracer, instance, args, kwargs) as span:
        job = await wrapped(*args, **kwargs)
        if job is not None:
            span.set_attribute("messaging.message.id", job.job_id)
        return job


async def _traced_enqueue_many(wrapped: Any, instance: aqueue.client.Client, args: Any, kwargs: Any) -> Any:
    """Run ``Client.enqueue_many`` inside one PRODUCER span (every job carries its context)."""
    tracer = _STATE["tracer"]
    if tracer is None:
        return await wrapped(*args, **kwargs)
    with _send_span(tracer, instance, args, kwargs) as span:
        jobs = await wrapped(*args, **kwargs)
        span.set_attribute("messaging.batch.message_count", len(jobs))
        return jobs


def _traced_encode(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Add the current trace context to a job's envelope (``encode_job`` as the client calls it)."""
    carrier: dict[str, str] = {}
    if _STATE["tracer"] is not None:
        propagate.inject(carrier)
    if carrier:
        kwargs = {**kwargs, "extra": {**(kwargs.get("extra") or {}), ENVELOPE_KEY: carrier}}
    return wrapped(*args, **kwargs)


def _name(task: Any) -> str:
    return task if isinstance(task, str) else task_name(task)


class TracingExtension(WorkerExtension):
    """Runs each attempt in a CONSUMER span: a child of the producer span, linked to its last try."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.redis: Any = None
        self.keys, self.queue = Keys(), ""

    def bind(self, context: WorkerContext) -> None:
        """Keep the worker's pool (the previous attempt's span) and queue (the span's destination)."""
        self.redis, self.keys, self.queue = context.redis, context.keys, context.queue

    def wrap_call(self, call: Call, envelope: JobEnvelope) -> Call:
        """Return ``call`` run inside this attempt's span."""
        carrier = envelope.extra.get(ENVELOPE_KEY)
        parent = propagate.extract(carrier) if isinstance(carrier, Mapping) else None
        task = envelope.name

        async def traced(ctx: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
            job_id, job_try = str(ctx["job_id"]), int(ctx["job_try"])
            links = await self._previous(job_id) if job_try > 1 else []
            attributes = {
                **_attributes(self.queue, task, "process"),
                "messaging.message.id": job_id,
                "aqueue.job.try": job_try,
            }
            name = f"process {task}"
            with self.tracer.start_as_current_span(
                name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes, links=links
            ) as span:
                try:
                    return await call(ctx, *args, **kwargs)
                except BaseException:
                    await self._remember(job_id, span.get_span_context())
                    raise

        return traced

    async def _previous(self, job_id: str) -> list[Link]:
        """Return a link to the job's previous attempt's span, if one was remembered."""
        with contextlib.suppress(*REDIS_ERRORS):
            raw = text(await self.redis.get(self.keys.scoped("otel", job_id)))
            trace_id, _, span_id = raw.partition(":")
            if trace_id and span_id:
                previous = SpanContext(
                    int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(1)
                )
                return [Link(previous, {"aqueue.link": "previous attempt"})]
        return []

    async def _remember(self, job_id: str, span: SpanContext) -> None:
        """Keep this attempt's span for the next attempt's link (an attempt that raised may be retried)."""
        with contextlib.suppress(*REDIS_ERRORS):
            value = f"{span.trace_id:032x}:{span.span_id:016x}"
            await self.redis.set(self.keys.scoped("otel", job_id), value, px=LINK_TTL_MS)


def _tracing(options: Mapping[str, Any]) -> WorkerExtension | None:
    tracer = _STATE["tracer"]
    return TracingExtension(tracer) if tracer is not None else None


class AqueueInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces aqueue's producers and workers (see the module docstring)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        """Return the packages this instruments (aqueue itself: nothing to check)."""
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        _STATE["tracer"] = trace.get_tracer(
            __name__, __version__, tracer_provider=kwargs.get("tracer_provider")
        )
        if not _REGISTERED:
            register_default(_tracing)
            _REGISTERED.append(True)
        wrap_function_wrapper("aqueue.client", "Client.enqueue", _traced_enqueue)
        wrap_function_wrapper("aqueue.client", "Client.enqueue_many", _traced_enqueue_many)
        wrap_function_wrapper("aqueue.client", "encode_job", _traced_encode)

    def _uninstrument(self, **kwargs: Any) -> None:
        _STATE["tracer"] = None
        unwrap(aqueue.client.Client, "enqueue")
        unwrap(aqueue.client.Client, "enqueue_many")
        unwrap(aqueue.client, "encode_job")
