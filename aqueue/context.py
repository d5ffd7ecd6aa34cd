"""What a task's ``ctx`` holds: :class:`JobContext`, a typed mapping to annotate ``ctx`` with.

``ctx`` is a plain ``dict`` built by the worker for each run, as in arq: the worker's own entries
(``redis``, ``worker_id`` and whatever ``on_startup`` put in the worker's ``ctx``), the job's entries,
and the entries that extensions add for the jobs they own (cron's ``cron_name`` and
``scheduled_time``). Changing it changes nothing outside the run.
"""

from datetime import datetime
from typing import NotRequired, TypedDict

from arq.connections import ArqRedis

from aqueue._envelope import JobEnvelope
from aqueue.progress import ProgressReporter

__all__ = ["JobContext"]


class JobContext(TypedDict):
    """The keys of a task's ``ctx``; annotate with it (``async def f(ctx: JobContext, …)``).

    Entries of your own (from ``on_startup``) go in a subclass: ``class Ctx(JobContext): db: Pool``.
    """

    #: The worker's redis-py connection pool (arq's ``ArqRedis``; its default queue is the worker's).
    #: Calls on it raise redis-py's exceptions, as in arq.
    redis: ArqRedis
    #: The worker's id, ``host-pid-xxxxxx``, as ``aqueue status`` lists it.
    worker_id: str
    #: The job's id (given with ``_job_id``, or 32 random hex digits).
    job_id: str
    #: Which try this is, from 1; a retry runs with the next number.
    job_try: int
    #: When the job was enqueued (aware, UTC).
    enqueue_time: datetime
    #: The job's score when it was claimed: the epoch milliseconds it was due at.
    score: int
    #: The Redis key of the queue the worker serves (``arq:queue`` by default).
    queue_name: str
    #: The decoded job envelope (task name, args, per-job options). Internal: its shape may change.
    envelope: JobEnvelope
    #: ``await ctx["progress"](value, message="")`` records the job's progress (``job.progress()``).
    progress: ProgressReporter
    #: A scheduled run's cron job name (only in runs of a cron job).
    cron_name: NotRequired[str]
    #: A scheduled run's slot, the instant it was scheduled for (aware, UTC; cron runs only).
    scheduled_time: NotRequired[datetime]
