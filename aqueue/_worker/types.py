"""What the worker passes between its parts: a claimed job, and how one attempt ended."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

from aqueue._envelope import JobEnvelope

__all__ = ["ClaimedJob", "Outcome", "OutcomeKind", "fencing_token"]


def fencing_token(worker_id: str, job_try: int) -> str:
    """Return the token that fences one delivery of a job to a worker (the Lua scripts build the same)."""
    return f"{worker_id}:{job_try}"


class OutcomeKind(StrEnum):
    """How an attempt ended; the values are what the finish scripts receive."""

    OK = "ok"
    ERR = "err"
    RETRY = "retry"


# ClaimedJob and Outcome are NamedTuples: immutable, and built (several per job) in a fraction of
# a frozen dataclass's time, whose __init__ goes through object.__setattr__ field by field.


class ClaimedJob(NamedTuple):
    """One delivery of a job to this worker; ``token`` fences everything it records."""

    job_id: str
    payload: bytes
    score: int
    job_try: int
    aborted: bool
    token: str
    #: handed over by enqueue to this idle worker (``score`` is then the hand-over time, not the due time)
    handoff: bool = False
    #: the job's queue key, when it is not the worker's first queue ("")
    queue: str = ""


class Outcome(NamedTuple):
    """How one attempt ended, ready to record.

    ``value`` is the task's return value or exception; ``result`` its encoded form, filled in by
    :meth:`sealed` (empty until then, and for outcomes that keep no result).
    """

    job: ClaimedJob
    kind: OutcomeKind
    value: Any = None
    envelope: JobEnvelope | None = None
    result: bytes = b""
    ttl_ms: int = 0
    retry_score: int = 0
    started_ms: int = 0

    def sealed(self, result: bytes) -> Outcome:
        """Return this outcome with its encoded ``result``."""
        # built directly, not with _replace: once per job on the hot path
        job, kind, value, envelope = self.job, self.kind, self.value, self.envelope
        return Outcome(job, kind, value, envelope, result, self.ttl_ms, self.retry_score, self.started_ms)

    def failed(self, error: BaseException) -> Outcome:
        """Return this outcome turned into a failure with ``error`` (e.g. its value cannot be encoded)."""
        return self._replace(kind=OutcomeKind.ERR, value=error, result=b"")

    @property
    def task(self) -> str:
        """Return the task name (``<unknown>`` if the payload could not be decoded)."""
        return self.envelope.name if self.envelope is not None else "<unknown>"
