"""What draining a queue needs: the Lua that readies a queue and counts its work, and the report.

A queue's sorted set holds every job that is not finished: queued, deferred, and running (a claimed
job's score is its lease end). So a queue is drained when its set is empty and its worker holds no
job. Draining may first make deferred jobs due now (a retry's backoff, ``_defer_by``, a cron run
enqueued for a slot ahead of the real clock), so tests need not wait for them in real time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from aqueue._redis.scripts import compose
from aqueue._worker.types import Outcome, OutcomeKind

__all__ = ["DrainReport", "JobFailure", "QueueScan", "raise_first"]

#: A score larger than any job's (2**53 - 1 ms): "bring forward every deferred job".
EVERY_DEFERRED_MS = 9_007_199_254_740_991

# aq_wake comes from the core library (lib.lua), which compose() puts first.
_READY_LUA = """
-- aqueue.testing: ready a queue for draining. ARGV: prefix, queue, now_ms, cap_ms.
-- A job no worker holds, deferred until cap_ms at the latest, is made due now (idle workers are
-- woken). Returns {busy, deferred}: jobs due or held by a worker, and jobs left deferred.
local prefix, queue, now, cap = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local entries = redis.call('ZRANGE', queue, 0, -1, 'WITHSCORES')
local busy, deferred, moved = 0, 0, 0
for i = 1, #entries, 2 do
  local id, score = entries[i], tonumber(entries[i + 1])
  if score <= now or redis.call('EXISTS', prefix .. 'in-progress:' .. id) == 1 then
    busy = busy + 1
  elseif score <= cap then
    redis.call('ZADD', queue, now, id)
    busy = busy + 1
    moved = moved + 1
  else
    deferred = deferred + 1
  end
end
if moved > 0 then aq_wake(prefix, queue) end
return {busy, deferred}
"""


class QueueScan:
    """Counts one queue's unfinished work, first making deferred jobs due when asked."""

    def __init__(self, redis: Redis, prefix: str, queue: str) -> None:
        self._script = redis.register_script(compose(_READY_LUA))
        self._prefix = prefix
        self._queue = queue

    async def __call__(self, now_ms: int, cap_ms: int) -> tuple[int, int]:
        """Return (busy, deferred) jobs after making those deferred until ``cap_ms`` due."""
        busy, deferred = await self._script(args=[self._prefix, self._queue, now_ms, cap_ms])
        return int(busy), int(deferred)


@dataclass(frozen=True, slots=True)
class JobFailure:
    """A job that ended failed: its id, task, the try it failed on and the exception it raised.

    ``error`` is the exception object itself, with its traceback (``job.result()`` raises a copy
    rebuilt from the stored result).
    """

    job_id: str
    task: str
    job_try: int
    error: BaseException


@dataclass(frozen=True, slots=True)
class DrainReport:
    """What one drain saw end: how many jobs completed, were retried, and which failed."""

    complete: int = 0
    retried: int = 0
    failures: tuple[JobFailure, ...] = ()

    @property
    def failed(self) -> int:
        """Return how many jobs ended failed."""
        return len(self.failures)

    @property
    def empty(self) -> bool:
        """Return whether nothing ended during the drain."""
        return not (self.complete or self.retried or self.failures)

    @classmethod
    def of(cls, outcomes: Iterable[Outcome]) -> DrainReport:
        """Summarise recorded outcomes."""
        complete = retried = 0
        failures: list[JobFailure] = []
        for outcome in outcomes:
            if outcome.kind is OutcomeKind.OK:
                complete += 1
            elif outcome.kind is OutcomeKind.RETRY:
                retried += 1
            else:
                failures.append(_failure(outcome))
        return cls(complete, retried, tuple(failures))

    @classmethod
    def merge(cls, reports: Iterable[DrainReport]) -> DrainReport:
        """Add reports up."""
        complete = retried = 0
        failures: list[JobFailure] = []
        for report in reports:
            complete += report.complete
            retried += report.retried
            failures += report.failures
        return cls(complete, retried, tuple(failures))


def _failure(outcome: Outcome) -> JobFailure:
    value: Any = outcome.value
    error = value if isinstance(value, BaseException) else RuntimeError(str(value))
    return JobFailure(outcome.job.job_id, outcome.task, outcome.job.job_try, error)


def raise_first(failures: tuple[JobFailure, ...], where: str) -> None:
    """Raise the first failure's own exception, with a note naming the job and any other failures."""
    if not failures:
        return
    first, rest = failures[0], failures[1:]
    note = f"{where}: job {first.job_id} ({first.task}, try {first.job_try}) failed"
    if rest:
        others = ", ".join(f"{f.task} ({type(f.error).__name__})" for f in rest[:5])
        note += f"; {len(rest)} more failed: {others}{', …' if len(rest) > 5 else ''}"
    first.error.add_note(note + " (pass raise_failures=False to get them in the report instead)")
    raise first.error
