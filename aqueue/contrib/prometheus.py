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
``aqueue_dead_letters_total``          counter    queue                       jobs this worker's claims
                                                                              dead-lettered
``aqueue_workflow_runs_total``         counter    outcome                     workflow runs that ended
                                                                              (``succeeded``/``failed``/
                                                                              ``cancelled``) with an
                                                                              outcome this worker recorded
=====================================  =========  ==========================  ==========================

The hooks (``on_start_at``, ``on_end_batch``: synchronous, no coroutine per job) only bump plain Python
counters (a dict update and a bucket search per job: about a microsecond); the Prometheus families
are built from them when ``/metrics`` is scraped. Dead letters happen inside the claim script: its
Lua hook counts them in the worker's ``{prefix}tally:{worker}`` hash, which the extension reads
every few seconds. A workflow run is counted once, by the worker that records the outcome of a node
after which the run is over (a run cancelled while none of its nodes runs is not counted), in a
service that the node's end is passed to.
"""

from __future__ import annotations

import asyncio
import contextlib
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from aqueue._clock import now_ms
from aqueue._envelope import JobEnvelope
from aqueue._redis.connection import text
from aqueue._redis.errors import REDIS_ERRORS
from aqueue._redis.keys import Keys
from aqueue._worker.types import ClaimedJob, Outcome, OutcomeKind
from aqueue.errors import JobAborted
from aqueue.extensions import LuaHooks, Service, WorkerContext, WorkerExtension

__all__ = ["BUCKETS", "METRICS", "PrometheusMetrics"]

#: Every metric family this extension serves: name (as exposed) → (type, labels).
METRICS = {
    "aqueue_jobs_total": ("counter", ("queue", "task", "outcome")),
    "aqueue_job_duration_seconds": ("histogram", ("queue", "task")),
    "aqueue_pickup_latency_seconds": ("histogram", ("queue",)),
    "aqueue_jobs_running": ("gauge", ("queue",)),
    "aqueue_retries_total": ("counter", ("queue", "task")),
    "aqueue_cron_runs_total": ("counter", ("name", "outcome")),
    "aqueue_dead_letters_total": ("counter", ("queue",)),
    "aqueue_workflow_runs_total": ("counter", ("outcome",)),
}
#: How often the worker's tally of dead letters is read from Redis (seconds).
TALLY_EVERY_S = 2.0
_TALLY_TTL_MS = 86_400_000
_LUA = f"""
local function aq_metrics_dead(prefix, id, max_deliveries, now, worker)
  local key = prefix .. 'tally:' .. worker
  redis.call('HINCRBY', key, 'dead_letters', 1)
  redis.call('PEXPIRE', key, {_TALLY_TTL_MS})
end
"""
#: A workflow run's end state → the outcome label.
_RUN_OUTCOMES = {"complete": "succeeded", "failed": "failed", "cancelled": "cancelled"}

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
        dead = CounterMetricFamily(
            "aqueue_dead_letters", "Jobs this worker's claims dead-lettered.", labels=["queue"]
        )
        dead.add_metric([queue], m.dead_letters)
        runs = CounterMetricFamily("aqueue_workflow_runs", "Workflow runs that ended.", labels=["outcome"])
        for outcome, count in list(m.workflow_runs.items()):
            runs.add_metric([outcome], count)
        yield from (jobs, retries, cron, duration, pickup, running, dead, runs)


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
        self.dead_letters = 0
        self.workflow_runs: defaultdict[str, int] = defaultdict(int)
        self.running: Callable[[], int] = lambda: 0
        self.redis: Any = None
        self.keys, self.worker_id = Keys(), ""
        self._nodes_ended: asyncio.Queue[str] = asyncio.Queue()  # workflow nodes' job ids, to count runs
        self.registry.register(_Collector(self))

    def lua(self) -> LuaHooks:
        """Return the dead-letter hook: counts this worker's dead letters in its tally hash."""
        return LuaHooks(library=_LUA, on_dead="aq_metrics_dead")

    def bind(self, context: WorkerContext) -> None:
        """Label everything with the worker's queue; track its running jobs."""
        self.queue, self.running = context.queue, context.running_jobs
        self.redis, self.keys, self.worker_id = context.redis, context.keys, context.worker_id

    def services(self) -> Sequence[Service]:
        """Return the tally reader, the workflow run counter and (given a port) the ``/metrics`` server."""
        served = [self._read_tally, self._count_runs]
        return [*served, self._serve] if self.port is not None else served

    async def _read_tally(self) -> None:
        key = self.keys.tally(self.worker_id)
        while True:
            with contextlib.suppress(*REDIS_ERRORS):  # a scrape shows the last count read meanwhile
                self.dead_letters = int(text(await self.redis.hget(key, "dead_letters")) or 0)
            await asyncio.sleep(TALLY_EVERY_S)

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
        self.on_start_at(job, envelope, now_ms())

    def on_start_at(self, job: ClaimedJob, envelope: JobEnvelope, at_ms: int) -> None:
        """Observe the pickup latency: from when the job was due to its start."""
        enqueued = envelope.enqueue_ms
        waited = at_ms - (enqueued if job.handoff or job.score < enqueued else job.score)
        _observe_ms(self.pickup, waited)

    def on_end(self, outcome: Outcome) -> None:
        """Count the attempt by how it ended, and time it (see :meth:`on_end_batch`)."""
        self.on_end_batch((outcome,))

    def on_end_batch(self, outcomes: Sequence[Outcome]) -> None:
        """Count the attempts by how they ended, and time them (a few dict lookups each, no coroutine).

        A workflow node's end is passed to a service, which counts its run if the run is over.
        """
        at, counts, durations = now_ms(), self.outcomes, self.durations
        for outcome in outcomes:
            kind, envelope, started = outcome.kind, outcome.envelope, outcome.started_ms
            task = envelope.name if envelope is not None else "<unknown>"
            label = _LABELS[kind] if kind is not _ERR else _label(outcome)
            counts[task, label] += 1
            if started:
                _observe_ms(durations[task], at - started)
            if kind is _RETRY:
                self.retries[task] += 1
                continue
            extra = envelope.extra if envelope is not None else None
            if extra:
                cron = extra.get("cron")
                if cron:
                    self.cron_runs[str(cron[0]), label] += 1
                if "wf" in extra:
                    self._nodes_ended.put_nowait(outcome.job.job_id)

    async def _count_runs(self) -> None:
        while True:
            await self._count_run(await self._nodes_ended.get())

    async def _count_run(self, job_id: str) -> None:
        """Count the node's run if it is over and no worker counted it yet (HSETNX on the run's meta)."""
        run_id = job_id.rpartition(":")[0]
        meta = self.keys.scoped("wf", run_id)
        with contextlib.suppress(*REDIS_ERRORS):
            state = text(await self.redis.hget(meta, "state"))
            if state in _RUN_OUTCOMES and await self.redis.hsetnx(meta, "counted", 1):
                self.workflow_runs[_RUN_OUTCOMES[state]] += 1


#: The bucket of every whole number of milliseconds up to the table's end (what bisect would say).
_BUCKET_OF_MS = tuple(bisect_left(BUCKETS, ms / 1000) for ms in range(10_001))
_TABLE_END_MS = len(_BUCKET_OF_MS) - 1


def _observe_ms(histogram: _Histogram, ms: int) -> None:
    """Observe ``ms`` milliseconds (0 if negative) in seconds; short times' bucket from a table."""
    ms = ms if ms > 0 else 0
    seconds = ms / 1000
    histogram.counts[_BUCKET_OF_MS[ms] if ms <= _TABLE_END_MS else bisect_left(BUCKETS, seconds)] += 1
    histogram.total += seconds


_LABELS = {OutcomeKind.OK: "succeeded", OutcomeKind.RETRY: "retried"}
_ERR, _RETRY = OutcomeKind.ERR, OutcomeKind.RETRY


def _label(outcome: Outcome) -> str:
    if outcome.kind is OutcomeKind.OK:
        return "succeeded"
    if outcome.kind is OutcomeKind.RETRY:
        return "retried"
    return "aborted" if isinstance(outcome.value, JobAborted) else "failed"
