"""The worker's Redis operations on one queue: claim, finish, renew, release — one Lua call each."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from aqueue._clock import now_ms
from aqueue._redis.core import (
    Claim,
    ClaimArgs,
    ClaimReply,
    Finish,
    FinishArgs,
    FinishRecord,
    Held,
    LeaseAction,
    Release,
    ReleaseArgs,
    Renew,
    RenewArgs,
)
from aqueue._redis.keys import Keys
from aqueue._redis.scripts import ScriptRegistry
from aqueue._worker.types import ClaimedJob, Outcome, fencing_token

__all__ = ["QueueOps", "parse_handoff"]


def parse_handoff(message: bytes, worker_id: str) -> ClaimedJob | None:
    """Return the job in a wake-up message (``J<try>:<len>:<id><payload>``), or None for a plain wake."""
    if not message.startswith(b"J"):
        return None
    tries, idlen, rest = message[1:].split(b":", 2)
    size, job_try = int(idlen), int(tries)
    job_id = rest[:size].decode()
    return ClaimedJob(job_id, rest[size:], now_ms(), job_try, False, fencing_token(worker_id, job_try), True)


class QueueOps:
    """Claims and records jobs on ``queue`` for worker ``worker_id`` with leases of ``lease_ms``.

    The scripts run on ``scripts``' transport (see :mod:`aqueue._redis.transport`); that registry
    composes the worker's extensions' Lua into the claim and finish scripts.
    """

    def __init__(
        self, scripts: ScriptRegistry, keys: Keys, queue: str, worker_id: str, lease_ms: int
    ) -> None:
        self.scripts = scripts
        self.keys = keys
        self.queue = queue
        self.worker_id = worker_id
        self.lease_ms = lease_ms
        self._claim = scripts.get(Claim)
        self._finish = scripts.get(Finish)
        self._renew = scripts.get(Renew)
        self._release = scripts.get(Release)

    def claim(self, limit: int, *, register_idle: bool, max_deliveries: int) -> Awaitable[ClaimReply]:
        """Claim up to ``limit`` due jobs; the reply holds them and the earliest score left queued."""
        return self._claim(
            ClaimArgs(
                prefix=self.keys.prefix,
                queue=self.queue,
                now_ms=now_ms(),
                limit=limit,
                lease_ms=self.lease_ms,
                worker_id=self.worker_id,
                register_idle=register_idle,
                max_deliveries=max_deliveries,
            )
        )

    def finish(self, outcomes: list[Outcome], note: bytes = b"") -> Awaitable[list[bool]]:
        """Record outcomes atomically per job; False where the claim was lost (fenced).

        ``note`` goes to the extensions' ``on_finish_batch`` Lua hooks.
        """
        records = [_record(o) for o in outcomes]
        args = FinishArgs(prefix=self.keys.prefix, queue=self.queue, note=note, outcomes=records)
        return self._finish(args)

    def renew(self, held: Sequence[tuple[str, str]]) -> Awaitable[list[LeaseAction]]:
        """Extend leases on held (job id, token) claims; return those that need action ('lost' or 'abort')."""
        args = RenewArgs(
            prefix=self.keys.prefix,
            queue=self.queue,
            now_ms=now_ms(),
            lease_ms=self.lease_ms,
            held=[Held(*claim) for claim in held],
        )
        return self._renew(args)

    def release(self, held: Sequence[tuple[str, str]]) -> Awaitable[int]:
        """Retire: leave the idle set and hand claimed jobs (and unread handed-over ones) back, due now.

        Resolves to how many were still ours.
        """
        args = ReleaseArgs(
            prefix=self.keys.prefix,
            queue=self.queue,
            now_ms=now_ms(),
            worker_id=self.worker_id,
            lease_ms=self.lease_ms,
            held=[Held(*claim) for claim in held],
        )
        return self._release(args)


def _record(outcome: Outcome) -> FinishRecord:
    """Return ``outcome`` as finish.lua records it."""
    job, kind = outcome.job, outcome.kind
    return FinishRecord(job.job_id, job.token, kind, outcome.result, outcome.ttl_ms, outcome.retry_score)
