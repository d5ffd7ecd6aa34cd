"""Test helpers for code that uses aqueue: real workers in the test's event loop, and eager mode.

- :func:`run_worker` runs your ``WorkerSettings`` in-process for a block;
  :meth:`RunningWorker.drain` runs its queue empty and re-raises the first failure;
  :meth:`RunningWorker.run_cron` runs the cron slots due at a given time.
- :func:`eager`: inside ``with eager():`` every enqueue returns once its job has run.

Both run the real worker on a real Redis (``aqueue.embedded.RedisServer``), so serialization,
retries, timeouts and workflows behave as in production. The pytest plugin (loaded automatically
when aqueue is installed) gives fixtures: ``aqueue_redis_url``, ``aqueue_client``, ``aqueue_worker``,
``aqueue_eager``. See ``docs/testing.md``.
"""

from aqueue.testing._cron import CronRun
from aqueue.testing._drain import DrainReport, JobFailure
from aqueue.testing._eager import Eager, eager
from aqueue.testing._worker import RunningWorker, WorkerTarget, run_worker

__all__ = [
    "CronRun",
    "DrainReport",
    "Eager",
    "JobFailure",
    "RunningWorker",
    "WorkerTarget",
    "eager",
    "run_worker",
]
