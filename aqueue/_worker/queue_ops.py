"""The worker's Redis operations on its queues: claim, finish, renew, release — one Lua call each.

A worker on several queues claims from all of them in one call; finishes, renewals and releases go
one call per queue (each names the queue whose sorted set it writes): a job's queue is in its
:class:`ClaimedJob` (``""``: the first queue).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

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
    QueueQuota,
    Release,
    ReleaseArgs,
    Renew,
    RenewArgs,
)
from aqueue._redis.keys import Keys
from aqueue._redis.scripts import ScriptRegistry
from aqueue._worker.types import ClaimedJob, Outcome, fencing_token
from aqueue.errors import ConfigurationError

__all__ = ["QueueOps", "parse_handoff", "queue_plan"]

#: ``WorkerSettings.queues``: names in strict order, or names with their weights.
QueuesSetting = Sequence[str] | Mapping[str, int]


#: A held claim: (job id, token) on the worker's first queue, or (job id, token, queue key; "": first).
HeldClaim = tuple[str, str] | tuple[str, str, str]
#: Makes the text a finish call's ``on_finish_batch`` hooks get about its outcomes.
Note = Callable[[Sequence[Outcome]], bytes]


def parse_handoff(message: bytes, worker_id: str) -> ClaimedJob | None:
    """Return the job in a wake-up message, or None for a plain wake.

    ``J<try>:<len>:<id><payload>``, or for a worker on several queues
    ``K<try>:<len>:<queue len>:<id><queue><payload>``.
    """
    kind = message[:1]
    if kind == b"J":
        tries, idlen, rest = message[1:].split(b":", 2)
        size, job_try, queue = int(idlen), int(tries), ""
    elif kind == b"K":
        tries, idlen, qlen, rest = message[1:].split(b":", 3)
        size, job_try = int(idlen), int(tries)
        queue = rest[size : size + int(qlen)].decode()
        rest = rest[:size] + rest[size + int(qlen) :]
    else:
        return None
    job_id = rest[:size].decode()
    token = fencing_token(worker_id, job_try)
    return ClaimedJob(job_id, rest[size:], now_ms(), job_try, False, token, True, queue)


def queue_plan(keys: Keys, queues: QueuesSetting) -> tuple[list[str], list[int] | None]:
    """Return the queue keys of a ``queues`` setting and their weights (None: strict order).

    A list (or tuple) is served in strict order: a later queue only when the earlier ones have
    nothing due. A mapping of names to weights (whole numbers ≥ 1) splits claims in proportion
    under a backlog. Raises ConfigurationError for anything else, an empty one, a name that is not
    a non-empty string or given twice, or a bad weight.
    """
    if isinstance(queues, Mapping):
        names, weights = list(queues), list(queues.values())
        for name, weight in queues.items():
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
                raise ConfigurationError(
                    f"queues: the weight of {name!r} must be a whole number >= 1, got {weight!r}"
                )
    elif isinstance(queues, list | tuple):
        names, weights = list(queues), None
    else:
        raise ConfigurationError(
            "queues must be a list of queue names (strict order) or a dict of names to weights, "
            f"not {queues!r}"
        )
    if not names:
        raise ConfigurationError("queues is empty: name at least one queue")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"queues: a queue name must be a non-empty string, got {name!r}")
    found = [keys.queue(name) for name in names]
    if len(set(found)) != len(found):
        raise ConfigurationError(f"queues: a queue is named twice in {names!r}")
    return found, weights


class Quotas:
    """How a claim of ``limit`` jobs is split over weighted queues: smooth weighted round robin.

    Slot by slot, each queue earns its weight and the richest takes the slot (paying the total), so
    under a backlog on all of them the claims split as the weights do, even one job at a time.
    """

    def __init__(self, weights: Sequence[int]) -> None:
        self.weights = list(weights)
        self.total = sum(self.weights)
        self.credit = [0] * len(self.weights)

    def split(self, limit: int) -> list[int]:
        """Return each queue's quota of the next ``limit`` claims."""
        counts = [0] * len(self.weights)
        for _ in range(limit):
            for i, weight in enumerate(self.weights):
                self.credit[i] += weight
            best = max(range(len(self.weights)), key=self.credit.__getitem__)
            self.credit[best] -= self.total
            counts[best] += 1
        return counts


class QueueOps:
    """Claims and records jobs on ``queue`` for worker ``worker_id`` with leases of ``lease_ms``.

    ``queues`` (keys, ``queue`` first) serves several: in strict order, or with ``weights`` (one per
    queue) claims split in proportion under a backlog. The scripts run on ``scripts``' transport
    (see :mod:`aqueue._redis.transport`); that registry composes the worker's extensions' Lua into
    the claim and finish scripts.
    """

    def __init__(
        self,
        scripts: ScriptRegistry,
        keys: Keys,
        queue: str,
        worker_id: str,
        lease_ms: int,
        *,
        queues: Sequence[str] = (),
        weights: Sequence[int] | None = None,
    ) -> None:
        self.scripts = scripts
        self.keys = keys
        self.queue = queue
        self.queues = list(queues) or [queue]
        self.worker_id = worker_id
        self.lease_ms = lease_ms
        self._quotas = Quotas(weights) if weights is not None and len(self.queues) > 1 else None
        self._claim = scripts.get(Claim)
        self._finish = scripts.get(Finish)
        self._renew = scripts.get(Renew)
        self._release = scripts.get(Release)

    def claim(self, limit: int, *, register_idle: bool, max_deliveries: int) -> Awaitable[ClaimReply]:
        """Claim up to ``limit`` due jobs; the reply holds them and the earliest score left queued."""
        if self._quotas is not None:
            quotas = [QueueQuota(q, n) for q, n in zip(self.queues, self._quotas.split(limit), strict=True)]
        else:
            quotas = [QueueQuota(q, limit) for q in self.queues]
        return self._claim(
            ClaimArgs(
                prefix=self.keys.prefix,
                now_ms=now_ms(),
                limit=limit,
                lease_ms=self.lease_ms,
                worker_id=self.worker_id,
                register_idle=register_idle,
                max_deliveries=max_deliveries,
                queues=quotas,
            )
        )

    def finish(self, outcomes: list[Outcome], note: Note | None = None) -> Awaitable[list[bool]]:
        """Record outcomes atomically per job; False where the claim was lost (fenced).

        ``note`` makes the text for the extensions' ``on_finish_batch`` Lua hooks, once per call.
        """
        if len(self.queues) == 1:  # the common case: one call, nothing regrouped
            records = [_record(o) for o in outcomes]
            text = note(outcomes) if note is not None else b""
            return self._finish(
                FinishArgs(prefix=self.keys.prefix, queue=self.queue, note=text, outcomes=records)
            )
        return self._finish_by_queue(outcomes, note)

    async def _finish_by_queue(self, outcomes: list[Outcome], note: Note | None) -> list[bool]:
        groups: dict[str, list[int]] = {}
        for n, outcome in enumerate(outcomes):
            groups.setdefault(outcome.job.queue or self.queue, []).append(n)

        def args(queue: str, indices: list[int]) -> FinishArgs:
            batch = [outcomes[n] for n in indices]
            text = note(batch) if note is not None else b""
            return FinishArgs(self.keys.prefix, queue, text, [_record(o) for o in batch])

        replies = await asyncio.gather(*(self._finish(args(q, i)) for q, i in groups.items()))
        done = [False] * len(outcomes)
        for indices, flags in zip(groups.values(), replies, strict=True):
            for n, flag in zip(indices, flags, strict=True):
                done[n] = flag
        return done

    def renew(self, held: Sequence[HeldClaim]) -> Awaitable[list[LeaseAction]]:
        """Extend leases on held (job id, token[, queue]) claims; return those that need action.

        The actions are 'lost' (the claim is gone) or 'abort' (asked to abort).
        """
        if len(self.queues) == 1:
            return self._renew(self._renew_args(self.queue, held))
        return self._renew_by_queue(held)

    def _renew_args(self, queue: str, held: Sequence[HeldClaim]) -> RenewArgs:
        claims = [Held(claim[0], claim[1]) for claim in held]
        return RenewArgs(self.keys.prefix, queue, now_ms(), self.lease_ms, claims)

    async def _renew_by_queue(self, held: Sequence[HeldClaim]) -> list[LeaseAction]:
        groups = _by_queue(held, self.queue)
        replies = await asyncio.gather(*(self._renew(self._renew_args(q, h)) for q, h in groups.items()))
        return [action for reply in replies for action in reply]

    async def release(self, held: Sequence[HeldClaim]) -> int:
        """Retire: leave the idle sets and hand claimed jobs (and unread handed-over ones) back, due now.

        Returns how many were still ours.
        """
        groups = _by_queue(held, self.queue)
        count = 0
        for queue in self.queues:  # the first queue's call also takes back unread handed-over jobs
            args = ReleaseArgs(
                prefix=self.keys.prefix,
                queue=queue,
                now_ms=now_ms(),
                worker_id=self.worker_id,
                lease_ms=self.lease_ms,
                held=[Held(claim[0], claim[1]) for claim in groups.get(queue, ())],
            )
            count += await self._release(args)
        return count


def _by_queue(held: Sequence[HeldClaim], first: str) -> dict[str, list[HeldClaim]]:
    """Group held claims by their queue key (a claim without one, or with "", is on ``first``)."""
    groups: dict[str, list[HeldClaim]] = {}
    for claim in held:
        queue = (claim[2] if len(claim) > 2 else "") or first
        groups.setdefault(queue, []).append(claim)
    return groups


def _record(outcome: Outcome) -> FinishRecord:
    """Return ``outcome`` as finish.lua records it."""
    job, kind = outcome.job, outcome.kind
    return FinishRecord(job.job_id, job.token, kind, outcome.result, outcome.ttl_ms, outcome.retry_score)
