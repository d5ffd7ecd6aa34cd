"""Cron as a worker extension: the scheduler runs beside the worker's loops and records each run's end.

Every worker gets one :class:`CronExtension`, since any worker may run a scheduled job: it gives a
scheduled run's ``ctx`` its ``cron_name`` and ``scheduled_time`` and records how each run ended in the
cron registry. A worker whose settings carry ``cron_jobs`` also registers their functions as tasks
and runs a :class:`~aqueue.scheduler._runner.CronRunner` as a service.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

from aqueue._clock import ms_to_datetime
from aqueue._envelope import JobEnvelope
from aqueue._redis.keys import Keys
from aqueue._redis.scripts import ScriptRegistry
from aqueue._worker.types import ClaimedJob, Outcome
from aqueue.extensions import Service, WorkerContext, WorkerExtension
from aqueue.scheduler._clock import Clock
from aqueue.scheduler._definition import CronJob, check_unique_names
from aqueue.scheduler._keys import CronKeys
from aqueue.scheduler._runner import CronRunner, record_outcome
from aqueue.scheduler._versions import check_croniter
from aqueue.tasks import Task, as_task

__all__ = ["CronExtension"]

logger = logging.getLogger("aqueue.scheduler")


class CronExtension(WorkerExtension):
    """Schedules ``jobs`` from inside a worker, exactly once per slot however many workers carry them."""

    envelope_keys = frozenset({"cron"})

    def __init__(self, jobs: Sequence[CronJob] = (), clock: Clock | None = None) -> None:
        check_unique_names(jobs)
        self.jobs = list(jobs)
        self.clock = clock
        self.runner: CronRunner | None = None
        self._recorder: tuple[CronKeys, ScriptRegistry] | None = None
        self._identity: tuple[Redis, Keys, str] | None = None

    def tasks(self) -> Sequence[Task[Any, Any]]:
        """Return the cron jobs given as functions (not by task name), as tasks."""
        return [as_task(job.func) for job in self.jobs if job.func is not None]

    def bind(self, context: WorkerContext) -> None:
        """Build the runner (if there are jobs) on the worker's connection, scripts, queue and serializer."""
        self._recorder = (CronKeys(context.keys), context.scripts)
        self._identity = (context.redis, context.keys, context.worker_id)
        if not self.jobs:
            return
        self.runner = CronRunner(
            context.redis,
            self.jobs,
            keys=context.keys,
            queue=context.queue,
            clock=self.clock,
            serializer=context.serializer,
            owner=context.worker_id,
            scripts=context.scripts,
        )

    def services(self) -> Sequence[Service]:
        """Return the scheduler loop, if this worker carries cron jobs."""
        return [self._run] if self.jobs else []

    async def startup(self) -> None:
        """Register the jobs and enqueue their ``run_at_startup`` runs before the worker takes jobs.

        A burst worker then runs them before it finds its queue empty. A failure (Redis away) is
        logged; the scheduler loop's first step tries again.
        """
        if self.runner is None:
            return
        try:
            if self._identity is not None:
                await check_croniter(*self._identity)
            await self.runner.start()
        except Exception:
            logger.exception("cron: registering jobs at start-up failed; the scheduler will retry")

    async def _run(self) -> None:
        assert self.runner is not None
        logger.info("cron: scheduling %s", ", ".join(job.name for job in self.jobs))
        await self.runner.run()

    def job_context(self, job: ClaimedJob, envelope: JobEnvelope) -> Mapping[str, Any] | None:
        """Return ``cron_name`` and ``scheduled_time`` (the slot) for a scheduled run."""
        cron = envelope.extra.get("cron")
        if not cron:
            return None
        return {"cron_name": cron[0], "scheduled_time": ms_to_datetime(cron[1])}

    async def on_outcome(self, outcome: Outcome) -> None:
        """Record a cron run's outcome in the registry; release a buffered slot."""
        if self._recorder is not None:
            await record_outcome(*self._recorder, outcome)
