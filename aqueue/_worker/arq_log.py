"""arq's log lines for each job (``Worker(log_jobs=True)``): arq's text, levels and logger (``arq.worker``).

Off by default: formatting two lines per job costs more than running a small job. Turned on, log
configurations and alerts written for arq's worker keep working::

      0.01s → 4ac1b2:add(1, 2)
      0.00s ← 4ac1b2:add ● 3
      0.02s ↻ 4ac1b2:flaky retrying job in 0.50s
      0.00s ! 4ac1b2:boom failed, ValueError: bad input
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from arq.utils import args_to_string, truncate
from arq.worker import RetryJob

from aqueue._clock import now_ms
from aqueue._envelope import JobEnvelope
from aqueue._worker.types import ClaimedJob, Outcome, OutcomeKind
from aqueue.errors import DeserializationError, JobAborted, MaxTriesExceeded, UnknownTaskError

__all__ = ["ArqJobLog"]

logger = logging.getLogger("arq.worker")


def _ref(job: ClaimedJob, name: str, envelope: JobEnvelope | None) -> str:
    """Return arq's name for a job in its log lines: ``id:function``, or the cron job's name."""
    return name if envelope is not None and envelope.extra.get("cron") else f"{job.job_id}:{name}"


def _seconds(start_ms: int, end_ms: int) -> float:
    return (end_ms - start_ms) / 1000


class ArqJobLog:
    """Writes arq's line when a job starts and when it ends; ``log_results`` is arq's option."""

    def __init__(self, *, log_results: bool = True) -> None:
        self.log_results = log_results

    @staticmethod
    def worker_started(functions: Iterable[str]) -> None:
        """Log arq's start-up line: ``Starting worker for 2 functions: add, mul``."""
        names = list(functions)
        logger.info("Starting worker for %d functions: %s", len(names), ", ".join(names))

    @staticmethod
    def started(job: ClaimedJob, envelope: JobEnvelope, start_ms: int) -> None:
        """Log ``→ id:name(args) [try=N] [delayed=Xs]``, timed from the enqueue."""
        extra = f" try={job.job_try}" if job.job_try > 1 else ""
        if start_ms - job.score > 1200:
            extra += f" delayed={(start_ms - job.score) / 1000:0.2f}s"
        call = args_to_string(envelope.args, dict(envelope.kwargs))
        ref = _ref(job, envelope.name, envelope)
        logger.info("%6.2fs → %s(%s)%s", _seconds(envelope.enqueue_ms, start_ms), ref, call, extra)

    def ended(self, outcome: Outcome, name: str, *, started: bool, max_tries: int = 0) -> None:
        """Log how the job ended: ``←`` done, ``↻`` retrying, ``⊘`` aborted, ``!`` failed.

        ``started``: whether its function ran (else it was refused: corrupt, unknown, used up, aborted).
        """
        envelope, now = outcome.envelope, now_ms()
        ref = _ref(outcome.job, name, envelope)
        took = _seconds(outcome.started_ms, now)
        if not started:
            waited = _seconds(envelope.enqueue_ms if envelope is not None else now, now)
            _refused(outcome, name, ref, waited, max_tries)
        elif outcome.kind is OutcomeKind.OK:
            value = outcome.value
            shown = "" if value is None or not self.log_results else truncate(repr(value))
            logger.info("%6.2fs ← %s ● %s", took, ref, shown)
        elif outcome.kind is OutcomeKind.RETRY:
            _retrying(outcome, ref, took, now)
        elif isinstance(outcome.value, JobAborted):
            logger.info("%6.2fs ⊘ %s aborted", took, ref)
        else:
            _failed(outcome.value, ref, took)

    @staticmethod
    def unencodable(outcome: Outcome, error: Exception) -> None:
        """Log arq's warning for a result the job serializer cannot encode."""
        ref = _ref(outcome.job, outcome.task, outcome.envelope)
        logger.warning("error serializing result of %s", ref, exc_info=error)


def _refused(outcome: Outcome, name: str, ref: str, waited: float, max_tries: int) -> None:
    """Log a job that ended before its function ran, in arq's words for each reason."""
    value, job_id = outcome.value, outcome.job.job_id
    if isinstance(value, DeserializationError):
        logger.error("deserializing job %s failed", job_id, exc_info=value)
    elif isinstance(value, UnknownTaskError):
        logger.warning("job %s, function %r not found", job_id, name)
    elif isinstance(value, MaxTriesExceeded):
        logger.warning("%6.2fs ! %s max retries %d exceeded", waited, ref, max_tries)
    elif isinstance(value, JobAborted) and outcome.envelope is None:
        logger.warning("job %s expired", job_id)
    elif isinstance(value, JobAborted):
        logger.info("%6.2fs ⊘ %s aborted before start", waited, ref)
    else:
        _failed(value, ref, 0.0)


def _retrying(outcome: Outcome, ref: str, took: float, now: int) -> None:
    if isinstance(outcome.value, RetryJob | asyncio.CancelledError):
        logger.info("%6.2fs ↻ %s cancelled, will be run again", took, ref)
    else:
        delay = max(outcome.retry_score - now, 0) / 1000
        logger.info("%6.2fs ↻ %s retrying job in %0.2fs", took, ref, delay)


def _failed(error: BaseException, ref: str, took: float) -> None:
    extra = getattr(error, "extra", None)
    if callable(extra):
        extra = extra()
    logger.error(
        "%6.2fs ! %s failed, %s: %s",
        took,
        ref,
        type(error).__name__,
        error,
        exc_info=error,
        extra={"extra": extra},
    )
