"""The Redis side of the scheduler: claim each slot once, enqueue its run, keep the registry.

:class:`CronRunner` carries a list of cron jobs. It sleeps (on an injectable :class:`Clock`) until
``lead`` before the earliest next slot of any job, then, per due job, reads the job's last claimed
slot from Redis, asks :func:`due_slots` which slots to claim (the ``missed`` policy), and claims
them in one Lua call (``cron_claim.lua``) that also applies the ``overlap`` policy, writes the job
and wakes idle workers. Runs are enqueued ``lead`` early with the slot as their score; at the slot
the runner wakes the queue's idle workers again, so they claim the run on time.

Any number of runners (one per worker) may carry the same jobs: a slot is claimed by exactly one
of them (see ``docs/scheduler.md``). :class:`aqueue.scheduler._extension.CronExtension` runs one
inside a worker and records how each run ended.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from aqueue import serialization
from aqueue._backoff import Backoff
from aqueue._clock import now_ms, to_seconds
from aqueue._envelope import encode_job
from aqueue._redis.errors import describe_pool
from aqueue._redis.keys import Keys
from aqueue._redis.scripts import ScriptRegistry
from aqueue._redis.transport import RedisPyTransport
from aqueue._worker.types import Outcome, OutcomeKind
from aqueue.scheduler._catchup import MAX_CATCHUP, due_slots
from aqueue.scheduler._clock import Clock, SystemClock
from aqueue.scheduler._definition import CronJob, check_unique_names
from aqueue.scheduler._keys import CronKeys
from aqueue.scheduler._registry import JOB_TTL_EXTRA_MS, job_id_prefix, register_jobs
from aqueue.scheduler._scripts import (
    CronClaim,
    CronClaimArgs,
    CronFinish,
    CronFinishArgs,
    CronSlot,
    CronTrigger,
    CronTriggerArgs,
    CronWake,
    CronWakeArgs,
)
from aqueue.scheduler._zones import slot_id

__all__ = ["DEFAULT_LEAD", "Claim", "ClaimStatus", "CronRunner", "record_outcome"]

logger = logging.getLogger("aqueue.scheduler")

#: How long before its slot a run is enqueued (its score is the slot itself).
DEFAULT_LEAD = timedelta(milliseconds=50)
#: A slot's claim key outlives the job's catch-up window by this much.
#: A slot claim outlives the catch-up window by this margin (clock skew between machines).
CLAIM_TTL_EXTRA = timedelta(minutes=10)
#: Missed slots are counted up to this many per gap.
MISSED_COUNT_LIMIT = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)


class ClaimStatus(StrEnum):
    """What one runner did with one slot; the values are what ``cron_claim.lua`` replies."""

    RUN = "run"  # claimed and enqueued
    SKIP = "skip"  # claimed, not run (overlap policy ``skip``, or ``buffer_one`` with a buffer full)
    BUFFER = "buffer"  # claimed, held until the running one ends (overlap policy ``buffer_one``)
    PAUSED = "paused"  # the job is paused
    TAKEN = "taken"  # another runner (or an earlier call) already claimed the slot


@dataclass(frozen=True, slots=True)
class Claim:
    """What one runner did with one slot (see :class:`ClaimStatus`)."""

    name: str
    slot: datetime
    job_id: str
    status: ClaimStatus


def _utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC: arithmetic on zoned datetimes is wall-clock arithmetic (DST gaps)."""
    return moment.astimezone(UTC)


def _from_ms(value: bytes | str | None) -> tuple[str, datetime | None]:
    """Return a stored slot id as text (as stored) and as an aware UTC datetime."""
    text = value.decode() if isinstance(value, bytes) else (value or "")
    return text, (_EPOCH + timedelta(milliseconds=int(text)) if text else None)


class CronRunner:
    """Claims the slots of ``jobs`` in Redis and enqueues their runs, exactly once per slot.

    ``queue`` is the queue key for jobs without a ``queue`` of their own; ``serializer`` encodes
    the job envelopes (the workers' ``job_serializer``); ``owner`` names this runner in claim keys;
    ``scripts`` runs the scripts (a worker's, on its hot-path transport; default: over ``redis``).
    Drive it with :meth:`run` (a loop on ``clock``) or, in tests, :meth:`step` and
    :meth:`next_wakeup`.
    """

    def __init__(
        self,
        redis: Redis,
        jobs: Sequence[CronJob],
        *,
        keys: Keys | None = None,
        queue: str | None = None,
        clock: Clock | None = None,
        serializer: Callable[[Any], bytes] | None = None,
        lead: timedelta = DEFAULT_LEAD,
        owner: str = "",
        scripts: ScriptRegistry | None = None,
    ) -> None:
        check_unique_names(jobs)
        self.redis, self.jobs = redis, list(jobs)
        core = keys or Keys()
        self.keys = CronKeys(core)
        self.default_queue = queue or core.queue()
        self._core = core
        self.clock: Clock = clock or SystemClock()
        self.serializer = serializer or serialization.job_serializer
        self.lead = lead
        self.owner = owner or f"{socket.gethostname()[:20]}-{os.getpid()}"
        self.scripts = scripts or ScriptRegistry(RedisPyTransport(redis))
        self._due: dict[str, datetime | None] = {}
        self._wakes: set[tuple[datetime, str]] = set()
        self._started = False

    def queue_of(self, job: CronJob) -> str:
        """Return the queue key ``job``'s runs go to."""
        return self._core.queue(job.queue) if job.queue else self.default_queue

    async def start(self) -> None:
        """Publish the jobs to the registry and enqueue the ``run_at_startup`` runs (once per runner).

        The next :meth:`step` then looks at every job.
        """
        if self._started:
            return
        now = self.clock.now()
        pairs = [(job, self.queue_of(job)) for job in self.jobs]
        await register_jobs(self.redis, self.keys, pairs, self.serializer, now)
        await self._run_at_startup(slot_id(now))
        self._due = {job.name: now for job in self.jobs}
        self._started = True

    async def _run_at_startup(self, now_ms: int) -> None:
        """Enqueue one run now of each ``run_at_startup`` job, as arq does each time a worker starts.

        The runs' ids are ``{prefix}:{now_ms}`` (or the job's ``job_id``), from one clock reading, so
        jobs that share a prefix run once.
        """
        trigger = self.scripts.get(CronTrigger)
        for job in self.jobs:
            if job.run_at_startup:
                args = CronTriggerArgs(
                    prefix=self.keys.prefix,
                    name=job.name,
                    now_ms=now_ms,
                    job_id=job.job_id or f"{job_id_prefix(job)}:{now_ms}",
                    payload=self._payload(job, now_ms, now_ms),
                    queue=self.queue_of(job),
                    job_ttl_ms=JOB_TTL_EXTRA_MS,
                )
                await trigger(args)

    async def step(self) -> list[Claim]:
        """Fire due wake-ups and claim every slot due by ``now + lead``; return what was claimed."""
        if not self._started:
            await self.start()
        now = self.clock.now()
        await self._fire_wakes(now)
        horizon = now + self.lead
        claims: list[Claim] = []
        for job in self.jobs:
            due = self._due.get(job.name)
            if due is not None and due <= horizon:
                claims += await self._process(job, now, horizon)
        return claims

    def next_wakeup(self) -> datetime | None:
        """Return when :meth:`step` has work next (None: every schedule has ended)."""
        moments = [due - self.lead for due in self._due.values() if due is not None]
        moments += [moment for moment, _ in self._wakes]
        return min(moments, default=None)

    async def run(self) -> None:
        """Step and sleep until cancelled; a failed step is logged once and retried with backoff.

        That covers Redis away or refusing writes, and anything else a step may raise.
        """
        backoff = Backoff("cron: claiming slots", logger, where=describe_pool(self.redis))
        while True:
            try:
                await self.step()
            except Exception as error:
                await asyncio.sleep(backoff.failed(error))
                continue
            backoff.succeeded()
            wake = self.next_wakeup()
            if wake is None:
                await asyncio.Event().wait()  # every schedule has ended
            await self.clock.sleep_until(wake)  # type: ignore[arg-type]

    async def record(self, outcome: Outcome) -> None:
        """Record a finished cron run in the registry (an outcome observer); release a buffered slot."""
        await record_outcome(self.keys, self.scripts, outcome)

    # -- one job ---------------------------------------------------------------------------------

    async def _process(self, job: CronJob, now: datetime, horizon: datetime) -> list[Claim]:
        seen, last = _from_ms(await self.redis.hget(self.keys.job(job.name), "last_slot"))  # type: ignore[misc]
        slots = [_utc(slot) for slot in due_slots(job, last, horizon)]
        claims = await self._claim(job, seen, last, slots, now) if slots else []
        if len(slots) >= MAX_CATCHUP:
            self._due[job.name] = now  # more to catch up: look again at once
        else:
            upcoming = job.next_run(max([horizon, *slots]))
            self._due[job.name] = None if upcoming is None else _utc(upcoming)
        return claims

    async def _claim(
        self, job: CronJob, seen: str, last: datetime | None, slots: list[datetime], now: datetime
    ) -> list[Claim]:
        queue, now_ms = self.queue_of(job), slot_id(now)
        upcoming = job.next_run(max(now + self.lead, slots[-1]))
        ids = [job.job_id or f"{job_id_prefix(job)}:{slot_id(slot)}" for slot in slots]
        args = CronClaimArgs(
            prefix=self.keys.prefix,
            name=job.name,
            queue=queue,
            now_ms=now_ms,
            seen_last=seen,
            dropped=_dropped(job, last, slots[0]),
            next_ms=None if upcoming is None else slot_id(upcoming),
            claim_ttl_ms=int((job.catchup_window + CLAIM_TTL_EXTRA) / timedelta(milliseconds=1)),
            overlap=job.overlap,
            job_ttl_extra_ms=JOB_TTL_EXTRA_MS,
            owner=self.owner,
            slots=[
                CronSlot(slot_id(slot), job_id, self._payload(job, slot_id(slot), now_ms))
                for slot, job_id in zip(slots, ids, strict=True)
            ],
        )
        statuses = await self.scripts.get(CronClaim)(args)
        claims = [
            Claim(job.name, slot, job_id, ClaimStatus(status))
            for slot, job_id, status in zip(slots, ids, statuses, strict=True)
        ]
        self._wakes.update((c.slot, queue) for c in claims if c.status is ClaimStatus.RUN and c.slot > now)
        return claims

    def _payload(self, job: CronJob, slot_ms: int, now_ms: int) -> bytes:
        return encode_job(
            self.serializer,
            job.task,
            job.args,
            dict(job.kwargs),
            job_try=None,
            enqueue_ms=now_ms,
            extra={"cron": [job.name, slot_ms], **job_overrides(job)},
        )

    async def _fire_wakes(self, now: datetime) -> None:
        due = {entry for entry in self._wakes if entry[0] <= now}
        wake = self.scripts.get(CronWake)
        for queue in {queue for _, queue in due}:
            await wake(CronWakeArgs(prefix=self.keys.prefix, queue=queue))
        self._wakes -= due


def _dropped(job: CronJob, last: datetime | None, first: datetime) -> int:
    """Count the slots strictly between ``last`` and ``first`` (missed), up to MISSED_COUNT_LIMIT."""
    if last is None:
        return 0
    return len(job.slots_between(last, first - _TICK, limit=MISSED_COUNT_LIMIT))


async def record_outcome(keys: CronKeys, scripts: ScriptRegistry, outcome: Outcome) -> bool:
    """Record how a cron run ended (ok/err, duration); return True if a buffered slot was released."""
    cron = outcome.envelope.extra.get("cron") if outcome.envelope is not None else None
    if not cron or outcome.kind is OutcomeKind.RETRY:
        return False
    now = now_ms()
    args = CronFinishArgs(
        prefix=keys.prefix,
        name=str(cron[0]),
        now_ms=now,
        job_id=outcome.job.job_id,
        kind=outcome.kind.value,
        duration_ms=max(now - outcome.started_ms, 0) if outcome.started_ms else None,
    )
    return await scripts.get(CronFinish)(args)


def job_overrides(job: CronJob) -> dict[str, Any]:
    """Return the envelope's per-job overrides (``o``) for a cron job's ``timeout``/``keep_result``."""
    options = {"timeout": to_seconds(job.timeout), "keep_result": to_seconds(job.keep_result)}
    present = {k: v for k, v in options.items() if v is not None}
    return {"o": present} if present else {}
