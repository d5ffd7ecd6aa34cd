"""Prometheus metrics for a worker, as a worker extension (extra ``aqueue-redis[metrics]``).

``aqueue worker SETTINGS --metrics-port 9100`` (or ``WorkerSettings.metrics_port``) turns it on and
serves ``/metrics``; ``Worker(extensions=[PrometheusMetrics(registry=...)])`` records into a registry
of your own (e.g. one an app already serves). Metrics:

=====================================  =========  ==========================  ==========================
name                                   type       labels                      what
=====================================  =========  ==========================  ==========================
``aqueue_jobs_total``                  counter    queue, task, outcome        attempts recorded, by how
                                                                              they ended: ``succeeded``,
                                                                              ``failed``, ``aborted``,
                                                                              ``retried``
``aqueue_job_duration_seconds``        histogram  queue, task                 start of the task → its end
``aqueue_pickup_latency_seconds``      histogram  queue                       due (enqueue, or the deferred
                                                                              time) → start
``aqueue_jobs_running``                gauge      queue                       attempts running now
``aqueue_retries_total``               counter    queue, task                 attempts that will run again
``aqueue_cron_runs_total``             counter    name, outcome               scheduled runs that ended
                                                                              (``succeeded``/``failed``)
=====================================  =========  ==========================  ==========================

Observing costs a few counter updates per job, off the Redis path (they run in the worker's hooks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from aqueue._clock import now_ms
from aqueue._envelope import JobEnvelope
from aqueue._worker.types import ClaimedJob, Outcome, OutcomeKind
from aqueue.errors import JobAborted
from aqueue.extensions import Service, WorkerContext, WorkerExtension

__all__ = ["BUCKETS", "PrometheusMetrics"]

#: Buckets (seconds) fit for a queue: sub-millisecond pickups up to hour-long jobs.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)


class PrometheusMetrics(WorkerExtension):
    """Records a worker's job metrics in ``registry`` (a new one by default); serves them on ``port``."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, port: int | None = None, host: str = "0.0.0.0"
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.port, self.host = port, host
        self._queue = ""
        self._define(self.registry)

    def _define(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, labels: Sequence[str]) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        self.jobs = counter(
            "aqueue_jobs_total", "Job attempts recorded, by outcome.", ("queue", "task", "outcome")
        )
        self.retries = counter("aqueue_retries_total", "Job attempts that will run again.", ("queue", "task"))
        self.cron_runs = counter("aqueue_cron_runs_total", "Scheduled runs that ended.", ("name", "outcome"))
        self.duration = Histogram(
            "aqueue_job_duration_seconds",
            "Time from a task's start to its end.",
            ("queue", "task"),
            buckets=BUCKETS,
            registry=registry,
        )
        self.pickup = Histogram(
            "aqueue_pickup_latency_seconds",
            "Time from a job being due (enqueued, or its deferred time) to its start.",
            ("queue",),
            buckets=BUCKETS,
            registry=registry,
        )
        self.running = Gauge(
            "aqueue_jobs_running", "Job attempts running now.", ("queue",), registry=registry
        )

    def bind(self, context: WorkerContext) -> None:
        """Label everything with the worker's queue; track its running jobs."""
        self._queue = context.queue
        self.running.labels(self._queue).set_function(lambda: float(context.running_jobs()))

    def services(self) -> Sequence[Service]:
        """Return the ``/metrics`` server, if a port was given."""
        return [self._serve] if self.port is not None else []

    async def _serve(self) -> None:
        assert self.port is not None
        server, thread = start_http_server(self.port, self.host, registry=self.registry)
        try:
            await asyncio.Event().wait()  # until the worker stops (cancelled)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def on_start(self, job: ClaimedJob, envelope: JobEnvelope) -> None:
        """Observe the pickup latency: from when the job was due to now."""
        started = now_ms()
        due = envelope.enqueue_ms if job.handoff else max(job.score, envelope.enqueue_ms)
        self.pickup.labels(self._queue).observe(max(started - due, 0) / 1000)

    async def on_outcome(self, outcome: Outcome) -> None:
        """Count the attempt by how it ended, and time it."""
        task, queue = outcome.task, self._queue
        label = _label(outcome)
        self.jobs.labels(queue, task, label).inc()
        if outcome.kind is OutcomeKind.RETRY:
            self.retries.labels(queue, task).inc()
        if outcome.started_ms:
            self.duration.labels(queue, task).observe(max(now_ms() - outcome.started_ms, 0) / 1000)
        cron = outcome.envelope.extra.get("cron") if outcome.envelope is not None else None
        if cron and outcome.kind is not OutcomeKind.RETRY:
            self.cron_runs.labels(str(cron[0]), label).inc()


def _label(outcome: Outcome) -> str:
    if outcome.kind is OutcomeKind.OK:
        return "succeeded"
    if outcome.kind is OutcomeKind.RETRY:
        return "retried"
    return "aborted" if isinstance(outcome.value, JobAborted) else "failed"
