"""The core scripts' typed wrappers (``aqueue/_redis/lua``): their arguments and replies.

Every argument tuple's fields, in order, are the script's ARGV (the header of its ``.lua`` file uses
the same names); repeated records come last, field by field. The scripts read no KEYS: they derive
their keys from the prefix, as arq's layout requires. On Redis Cluster the transports pass that prefix,
which then carries the queue's hash tag, as the one KEY that routes the call to the queue's slot
(:mod:`aqueue._redis.cluster`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from aqueue._redis.connection import text
from aqueue._redis.scripts import EXTENSIONS, LUA_PACKAGE, Script
from aqueue._worker.types import ClaimedJob, fencing_token

__all__ = [
    "FINISH_LIB",
    "Abort",
    "AbortArgs",
    "Claim",
    "ClaimArgs",
    "ClaimReply",
    "DeadRequeue",
    "DeadRequeueArgs",
    "Enqueue",
    "EnqueueArgs",
    "EnqueueJob",
    "Finish",
    "FinishArgs",
    "FinishRecord",
    "Held",
    "LeaseAction",
    "Pause",
    "PauseArgs",
    "Purge",
    "PurgeArgs",
    "PurgeReply",
    "QueueQuota",
    "Release",
    "ReleaseArgs",
    "Renew",
    "RenewArgs",
    "claimed_jobs",
]

#: Core Lua libraries some scripts need after lib.lua.
HANDOFF_LIB = (LUA_PACKAGE, "handoff_lib")
FINISH_LIB = (LUA_PACKAGE, "finish_lib")
UNIQUE_LIB = (LUA_PACKAGE, "unique_lib")  # aq_unique_end: a job that ends releases its unique key
PRIORITY_LIB = (LUA_PACKAGE, "priority_lib")
GROUP_LIB = (LUA_PACKAGE, "group_lib")


def claimed_job(fields: Sequence[Any], worker_id: str, queue: str = "") -> ClaimedJob:
    """Build a delivery from a script's 5 reply fields: id, payload, score, try, aborted (1/0).

    ``queue``: the job's queue when it is not the worker's first one.
    """
    return _delivery(
        fields[0], fields[1], fields[2], int(fields[3]), fields[4] == 1, worker_id=worker_id, queue=queue
    )


def _delivery(
    job_id: Any, payload: Any, score: Any, job_try: int, aborted: bool, *, worker_id: str, queue: str
) -> ClaimedJob:
    """Build a delivery from a script's raw reply values (``score`` as text, ``job_id`` bytes or text)."""
    token = fencing_token(worker_id, job_try)
    return ClaimedJob(text(job_id), payload, int(float(score)), job_try, aborted, token, False, queue)


def claimed_jobs(fields: Sequence[Any], worker_id: str) -> list[ClaimedJob]:
    """Return the jobs in a flat reply of 5 fields per job (claim.lua, wf_finish.lua)."""
    return [claimed_job(fields[i : i + 5], worker_id) for i in range(0, len(fields), 5)]


# -- enqueue.lua --------------------------------------------------------------------------------------


class EnqueueJob(NamedTuple):
    """One job to write: ``ttl_ms`` 0 means no expiry (workflow nodes)."""

    job_id: str
    payload: bytes
    score: int
    ttl_ms: int


class EnqueueArgs(NamedTuple):
    """Jobs for one queue; ``check_ids`` False: the ids are fresh random ones, skip the existence check.

    ``priority`` (0-9, checked by the caller) applies to every job of the call, and so does ``group``
    (``''``: none; with priority 0 only).
    """

    prefix: str
    queue: str
    now_ms: int
    check_ids: bool
    jobs: Sequence[EnqueueJob]
    priority: int = 0
    group: str = ""

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        out: list[Any] = [
            self.prefix, self.queue, self.now_ms, 1 if self.check_ids else 0, self.priority, self.group
        ]  # fmt: skip
        for job in self.jobs:
            out.extend(job)
        return out


class Enqueue(Script[EnqueueArgs, list[bool]]):
    """Write jobs, arq-style; hand due ones to idle workers. Reply: per job, whether it was written."""

    name = "enqueue"
    libraries = (
        GROUP_LIB,
        EXTENSIONS,
    )  # EXTENSIONS: aq_hook_enqueue per written job, aq_hook_enqueued per call

    def parse(self, args: EnqueueArgs, reply: Any) -> list[bool]:
        """Return one flag per job: False for an id that exists."""
        return [bool(x) for x in reply]


# -- claim.lua ----------------------------------------------------------------------------------------


class QueueQuota(NamedTuple):
    """One of a worker's queues, and how many jobs a claim takes from it before the next has its turn."""

    queue: str
    quota: int


class ClaimArgs(NamedTuple):
    """Claim up to ``limit`` due jobs for ``worker_id`` from ``queues``, each leased for ``lease_ms``."""

    prefix: str
    now_ms: int
    limit: int
    lease_ms: int
    worker_id: str
    register_idle: bool
    max_deliveries: int
    queues: Sequence[QueueQuota]

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        out: list[Any] = [
            self.prefix,
            self.now_ms,
            self.limit,
            self.lease_ms,
            self.worker_id,
            1 if self.register_idle else 0,
            self.max_deliveries,
        ]
        for queue in self.queues:
            out.extend(queue)
        return out


class ClaimReply(NamedTuple):
    """The claimed jobs, and the earliest score left in the queues (None: they are empty)."""

    jobs: list[ClaimedJob]
    head: int | None


class Claim(Script[ClaimArgs, ClaimReply]):
    """Claim due jobs (handed-over ones first), dead-letter over-delivered ones, or register idle."""

    name = "claim"
    # EXTENSIONS: aq_hook_dead after each dead letter, admission (waiting, admit, claimed, next_check);
    # PRIORITY_LIB: priorities and paused queues
    libraries = (HANDOFF_LIB, PRIORITY_LIB, GROUP_LIB, EXTENSIONS)

    def parse(self, args: ClaimArgs, reply: Any) -> ClaimReply:
        """Return the claimed jobs and the queues' head score (the last field).

        Per job: id, payload, score, try (negated if an abort was asked), and on several queues the
        job's queue ('' for the first).
        """
        head, worker, end = reply[-1], args.worker_id, len(reply) - 1
        if len(args.queues) > 1:
            jobs = [_claimed(reply, i, worker, text(reply[i + 4])) for i in range(0, end, 5)]
        else:
            jobs = [_claimed(reply, i, worker, "") for i in range(0, end, 4)]
        return ClaimReply(jobs, int(float(head)) if head else None)


def _claimed(reply: Sequence[Any], i: int, worker_id: str, queue: str) -> ClaimedJob:
    """Build the delivery of claim.lua's reply fields from ``i`` on (a negative try: abort asked)."""
    signed = int(reply[i + 3])
    return _delivery(
        reply[i], reply[i + 1], reply[i + 2], abs(signed), signed < 0, worker_id=worker_id, queue=queue
    )


# -- finish.lua ---------------------------------------------------------------------------------------


class FinishRecord(NamedTuple):
    """One attempt's outcome: ``kind`` 'ok' | 'err' | 'retry'; ``ttl_ms`` of the result (-1: forever)."""

    job_id: str
    token: str
    kind: str
    result: bytes
    ttl_ms: int
    retry_score: int


class FinishArgs(NamedTuple):
    """Outcomes to record on ``queue``; ``note`` is an extension's text about them (its Lua hook's)."""

    prefix: str
    queue: str
    note: bytes
    outcomes: Sequence[FinishRecord]

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        out: list[Any] = [self.prefix, self.queue, self.note]
        for record in self.outcomes:
            out.extend(record)
        return out


class Finish(Script[FinishArgs, list[bool]]):
    """Record outcomes, each only while its token holds. Reply: per outcome, whether it was recorded."""

    name = "finish"
    records_outcomes = True
    libraries = (FINISH_LIB, EXTENSIONS)  # EXTENSIONS: aq_hook_finish per recorded outcome, then finished

    def parse(self, args: FinishArgs, reply: Any) -> list[bool]:
        """Return one flag per outcome: False where the claim was lost (fenced)."""
        return [bool(x) for x in reply]


# -- renew.lua, release.lua ---------------------------------------------------------------------------


class Held(NamedTuple):
    """A claim this worker holds."""

    job_id: str
    token: str


class LeaseAction(NamedTuple):
    """What a renewal found: ``action`` 'lost' (the claim is gone) or 'abort' (asked to abort)."""

    job_id: str
    action: str


class RenewArgs(NamedTuple):
    """Extend the leases of ``held`` by ``lease_ms`` from ``now_ms``."""

    prefix: str
    queue: str
    now_ms: int
    lease_ms: int
    held: Sequence[Held]

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        out: list[Any] = [self.prefix, self.queue, self.now_ms, self.lease_ms]
        for claim in self.held:
            out.extend(claim)
        return out


class Renew(Script[RenewArgs, list[LeaseAction]]):
    """Extend leases. Reply: the claims that need action (lost, or asked to abort)."""

    name = "renew"
    libraries = (EXTENSIONS,)  # EXTENSIONS: aq_hook_renew per lease extended

    def parse(self, args: RenewArgs, reply: Any) -> list[LeaseAction]:
        """Return the (job id, action) pairs of the flat reply."""
        return [LeaseAction(text(reply[i]), text(reply[i + 1])) for i in range(0, len(reply), 2)]


class ReleaseArgs(NamedTuple):
    """Worker ``worker_id`` (leases of ``lease_ms``) retires: ``held`` go back to ``queue``, due now."""

    prefix: str
    queue: str
    now_ms: int
    worker_id: str
    lease_ms: int
    held: Sequence[Held]

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        out: list[Any] = [self.prefix, self.queue, self.now_ms, self.worker_id, self.lease_ms]
        for claim in self.held:
            out.extend(claim)
        return out


class Release(Script[ReleaseArgs, int]):
    """Leave the idle set, hand claimed and unread handed-over jobs back. Reply: how many went back."""

    name = "release"
    libraries = (HANDOFF_LIB, EXTENSIONS)  # EXTENSIONS: aq_hook_attempt_end per job handed back

    def parse(self, args: ReleaseArgs, reply: Any) -> int:
        """Return the count."""
        return int(reply)


# -- abort.lua, dead_requeue.lua ----------------------------------------------------------------------


class AbortArgs(NamedTuple):
    """Abort ``job_id``; a job not yet running gets ``result`` (kept ``ttl_ms``) at once."""

    prefix: str
    queue: str
    job_id: str
    now_ms: int
    result: bytes
    ttl_ms: int

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        return list(self)


class Abort(Script[AbortArgs, str]):
    """Abort a job. Reply: 'aborted' (it was waiting), 'flagged' (running) or 'missing'."""

    name = "abort"
    libraries = (UNIQUE_LIB, GROUP_LIB, EXTENSIONS)  # EXTENSIONS: withdraw

    def parse(self, args: AbortArgs, reply: Any) -> str:
        """Return the state as text."""
        return text(reply)


class DeadRequeueArgs(NamedTuple):
    """Requeue the dead-lettered ``job_ids``, due at ``now_ms``, their job keys kept ``ttl_ms``."""

    prefix: str
    now_ms: int
    ttl_ms: int
    job_ids: Sequence[str]

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        return [self.prefix, self.now_ms, self.ttl_ms, *self.job_ids]


class DeadRequeue(Script[DeadRequeueArgs, int]):
    """Put dead-lettered jobs back on their queues. Reply: how many were requeued."""

    name = "dead_requeue"
    libraries = (UNIQUE_LIB, EXTENSIONS)  # EXTENSIONS: on_enqueue per job put back, then the batch

    def parse(self, args: DeadRequeueArgs, reply: Any) -> int:
        """Return the count."""
        return int(reply)


# -- pause.lua, purge.lua -----------------------------------------------------------------------------


class PauseArgs(NamedTuple):
    """Pause ``queue`` (``paused`` True) or resume it."""

    prefix: str
    queue: str
    paused: bool

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        return [self.prefix, self.queue, 1 if self.paused else 0]


class Pause(Script[PauseArgs, bool]):
    """Pause or resume a queue; resuming wakes its idle workers. Reply: whether the state changed."""

    name = "pause"

    def parse(self, args: PauseArgs, reply: Any) -> bool:
        """Return whether the state changed."""
        return bool(reply)


class PurgeArgs(NamedTuple):
    """Look at up to ``batch`` entries of ``queue`` from rank ``start`` (and of its priority sets)."""

    prefix: str
    queue: str
    start: int
    batch: int

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        return list(self)


class PurgeReply(NamedTuple):
    """How many waiting jobs one call removed, and where the next call starts (None: done)."""

    removed: int
    next_start: int | None


class Purge(Script[PurgeArgs, PurgeReply]):
    """Remove waiting (queued or deferred) jobs of a queue, in batches; running ones stay."""

    name = "purge"
    libraries = (GROUP_LIB, EXTENSIONS)  # EXTENSIONS: purge

    def parse(self, args: PurgeArgs, reply: Any) -> PurgeReply:
        """Return the count and the next start."""
        removed, start = int(reply[0]), int(reply[1])
        return PurgeReply(removed, None if start < 0 else start)
