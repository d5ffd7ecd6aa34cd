"""The dashboard's ``/metrics``: the system-wide view in Prometheus' text format, on its own registry.

=============================  =====  ============  ===============================================
name                           type   labels        what
=============================  =====  ============  ===============================================
``aqueue_queue_jobs``          gauge  queue, state  jobs in a queue by ``state``: ``due`` (waiting
                                                    to be claimed), ``deferred`` (due later),
                                                    ``running`` (claimed by a live worker)
``aqueue_queue_paused``        gauge  queue         1 while the queue is paused
``aqueue_dead_letters``        gauge                dead-lettered jobs (``{prefix}dead``)
``aqueue_workers_live``        gauge  queue         workers with a fresh heartbeat, by queue served
=============================  =====  ============  ===============================================

The workers' own ``/metrics`` (``aqueue worker --metrics-port``) count jobs, durations and latency.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aqueue.dashboard._overview import Overview

__all__ = ["render_metrics"]


class _OverviewCollector(Collector):
    """Builds the gauges from one overview read."""

    def __init__(self, overview: Overview) -> None:
        self.overview = overview

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("aqueue_queue_jobs", "Jobs in a queue, by state.", labels=["queue", "state"])
        paused = GaugeMetricFamily("aqueue_queue_paused", "1 while the queue is paused.", labels=["queue"])
        for q in self.overview.queues:
            jobs.add_metric([q.queue, "due"], q.due)
            jobs.add_metric([q.queue, "deferred"], q.deferred)
            jobs.add_metric([q.queue, "running"], q.running)
            paused.add_metric([q.queue], 1 if q.paused else 0)
        yield jobs
        yield paused
        yield GaugeMetricFamily("aqueue_dead_letters", "Dead-lettered jobs.", value=self.overview.dead)
        workers = GaugeMetricFamily(
            "aqueue_workers_live", "Workers with a fresh heartbeat.", labels=["queue"]
        )
        for q in self.overview.queues:
            workers.add_metric([q.queue], q.workers)
        yield workers


def render_metrics(overview: Overview) -> bytes:
    """Return ``overview`` as Prometheus' text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_OverviewCollector(overview))
    return generate_latest(registry)
