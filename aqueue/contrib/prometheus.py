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

The hooks only bump plain Python counters (a dict update and a bucket search per job: about a
microsecond); the Prometheus families are built from them when ``/metrics`` is scraped.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from aqueue._clock import now_ms
from aqueue._envelope import JobEnvelope
from aqueue._worker.types import ClaimedJob, Outcome, OutcomeKind
from aqueue.errors import JobAborted
from aqueue.extensions import Service, WorkerContext, WorkerExtension

__all__ = ["BUCKETS", "PrometheusMetrics"]

#: Buckets (seconds) fit for a queue: sub-millisecond pickups up to hour-long jobs.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)


class _Histogram:
    """Observations counted per bucket (the last slot is +Inf), and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def buckets(self) -> Sequence[tuple[str, float]]:
        """Return cumulative buckets as Prometheus wants them."""
        running, out = 0, list[tuple[str, float]]()
        for bound, count in zip([*BUCKETS, float("inf")], self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
        return out


class _Collector(Collector):
    """Builds the metric families from a :class:`PrometheusMetrics`'s counters at scrape time."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m, queue = self.metrics, self.metrics.queue
        jobs = CounterMetricFamily(
            "aqueue_jobs", "Job attempts recorded, by outcome.", labels=["queue", "task", "outcome"]
        )
        for (task, outcome), count in list(m.outcomes.items()):
            jobs.add_metric([queue, task, outcome], count)
        retries = CounterMetricFamily(
            "aqueue_retries", "Job attempts that will run again.", labels=["queue", "task"]
        )
        for task, count in list(m.retries.items()):
            retries.add_metric([queue, task], count)
        cron = CounterMetricFamily(
            "aqueue_cron_runs", "Scheduled runs that ended.", labels=["name", "outcome"]
        )
        for (name, outcome), count in list(m.cron_runs.items()):
            cron.add_metric([name, outcome], count)
        duration = HistogramMetricFamily(
            "aqueue_job_duration_seconds", "Time from a task's start to its end.", labels=["queue", "task"]
        )
        for task, histogram in list(m.durations.items()):
            duration.add_metric([queue, task], histogram.buckets(), histogram.total)
        pickup = HistogramMetricFamily(
            "aqueue_pickup_latency_seconds",
            "Time from a job being due (enqueued, or its deferred time) to its start.",
            labels=["queue"],
        )
        pickup.add_metric([queue], m.pickup.buckets(), m.pickup.total)
        running = GaugeMetricFamily("aqueue_jobs_running", "Job attempts running now.", labels=["queue"])
        running.add_metric([queue], m.running())
        yield from (jobs, retries, cron, duration, pickup, running)


class PrometheusMetrics(WorkerExtension):
    """Records a worker's job metrics into ``registry`` (a new one by default); serves them on ``port``."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, port: int | None = None, host: str = "0.0.0.0"
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.port, self.host = port, host
        self.queue = ""
        self.outcomes: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.retries: defaultdict[str, int] = defaultdict(int)
        self.cron_runs: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.durations: defaultdict[str, _Histogram] = defaultdict(_Histogram)
        self.pickup = _Histogram()
        self.running: Callable[[], int] = lambda: 0
        self.registry.register(_Collector(self))

    def bind(self, context: WorkerContext) -> None:
        """Label everything with the worker's queue; track its running jobs."""
        self.queue, self.running = context.queue, context.running_jobs

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
        due = envelope.enqueue_ms if job.handoff else max(job.score, envelope.enqueue_ms)
        self.pickup.observe(max(now_ms() - due, 0) / 1000)

    async def on_outcome(self, outcome: Outcome) -> None:
        """Count the attempt by how it ended, and time it."""
        task, label = outcome.task, _label(outcome)
        self.outcomes[task, label] += 1
        if outcome.kind is OutcomeKind.RETRY:
            self.retries[task] += 1
        if outcome.started_ms:
            self.durations[task].observe(max(now_ms() - outcome.started_ms, 0) / 1000)
        cron = outcome.envelope.extra.get("cron") if outcome.envelope is not None else None
        if cron and outcome.kind is not OutcomeKind.RETRY:
            self.cron_runs[str(cron[0]), label] += 1


def _label(outcome: Outcome) -> str:
    if outcome.kind is OutcomeKind.OK:
        return "succeeded"
    if outcome.kind is OutcomeKind.RETRY:
        return "retried"
    return "aborted" if isinstance(outcome.value, JobAborted) else "failed"
