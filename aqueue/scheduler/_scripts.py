"""The scheduler's scripts' typed wrappers (``aqueue/scheduler/_lua``), each run with ``cron_lib.lua``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

from aqueue._redis.connection import text
from aqueue._redis.scripts import EXTENSIONS, Script, ScriptArgs

__all__ = [
    "CronClaim",
    "CronClaimArgs",
    "CronFinish",
    "CronFinishArgs",
    "CronSlot",
    "CronState",
    "CronStateArgs",
    "CronTrigger",
    "CronTriggerArgs",
    "CronWake",
    "CronWakeArgs",
]

LUA = "aqueue.scheduler._lua"
ArgsT = TypeVar("ArgsT", bound=ScriptArgs)
ReplyT = TypeVar("ReplyT")


class _CronScript(Script[ArgsT, ReplyT]):
    """What every cron script shares: where its file is, and ``cron_lib.lua`` after ``lib.lua``.

    The extensions' Lua (:data:`EXTENSIONS`) follows: ``cron_enqueue`` runs their on_enqueue hooks
    (the events layer's ``enqueued``).
    """

    package = LUA
    libraries = ((LUA, "cron_lib"), EXTENSIONS)


class CronSlot(NamedTuple):
    """One slot to claim: its time (ms, the run's score), the run's job id and encoded job."""

    slot_ms: int
    job_id: str
    payload: bytes


class CronClaimArgs(NamedTuple):
    """Claim the due ``slots`` of cron job ``name`` for runner ``owner`` and enqueue their runs.

    ``seen_last`` is the job's last claimed slot as this runner read it ('' = never ran; if it still
    holds, ``dropped`` slots in between count as missed); ``next_ms`` the job's next slot after
    these (None: its schedule ends); ``overlap`` its policy ('allow', 'skip', 'buffer_one').
    """

    prefix: str
    name: str
    queue: str
    now_ms: int
    seen_last: str
    dropped: int
    next_ms: int | None
    claim_ttl_ms: int
    overlap: str
    job_ttl_extra_ms: int
    owner: str
    slots: Sequence[CronSlot]

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        out: list[Any] = [
            self.prefix,
            self.name,
            self.queue,
            self.now_ms,
            self.seen_last,
            self.dropped,
            "" if self.next_ms is None else self.next_ms,
            self.claim_ttl_ms,
            self.overlap,
            self.job_ttl_extra_ms,
            self.owner,
        ]
        for slot in self.slots:
            out.extend(slot)
        return out


class CronClaim(_CronScript[CronClaimArgs, list[str]]):
    """Claim slots exactly once and enqueue their runs. Reply: per slot, what became of it."""

    name = "cron_claim"

    def parse(self, args: CronClaimArgs, reply: Any) -> list[str]:
        """Return one status per slot: run, skip, buffer, paused or taken."""
        return [text(status) for status in reply]


class CronFinishArgs(NamedTuple):
    """Record how run ``job_id`` of cron job ``name`` ended (``job_id`` '': only release a buffered slot).

    ``kind`` is 'ok' or 'err'; ``duration_ms`` None when unknown.
    """

    prefix: str
    name: str
    now_ms: int
    job_id: str
    kind: str
    duration_ms: int | None

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        return [
            self.prefix,
            self.name,
            self.now_ms,
            self.job_id,
            self.kind,
            "" if self.duration_ms is None else self.duration_ms,
        ]


class CronFinish(_CronScript[CronFinishArgs, bool]):
    """Record a finished run in the registry. Reply: whether a buffered slot was enqueued."""

    name = "cron_finish"

    def parse(self, args: CronFinishArgs, reply: Any) -> bool:
        """Return the flag."""
        return bool(reply)


class CronTriggerArgs(NamedTuple):
    """Run cron job ``name`` now, once: write ``payload`` as job ``job_id`` on ``queue``."""

    prefix: str
    name: str
    now_ms: int
    job_id: str
    payload: bytes
    queue: str
    job_ttl_ms: int

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        return list(self)


class CronTrigger(_CronScript[CronTriggerArgs, bool]):
    """Trigger a registered cron job. Reply: False if no such job is registered."""

    name = "cron_trigger"

    def parse(self, args: CronTriggerArgs, reply: Any) -> bool:
        """Return the flag."""
        return bool(reply)


class CronStateArgs(NamedTuple):
    """Pause (``paused`` True) or resume cron job ``name``."""

    prefix: str
    name: str
    paused: bool

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        return [self.prefix, self.name, 1 if self.paused else 0]


class CronState(_CronScript[CronStateArgs, bool]):
    """Pause or resume a registered cron job. Reply: False if no such job is registered."""

    name = "cron_state"

    def parse(self, args: CronStateArgs, reply: Any) -> bool:
        """Return the flag."""
        return bool(reply)


class CronWakeArgs(NamedTuple):
    """Wake the idle workers of ``queue``."""

    prefix: str
    queue: str

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        return list(self)


class CronWake(_CronScript[CronWakeArgs, int]):
    """Wake a queue's idle workers at a slot enqueued ahead of time. Reply: how many were woken."""

    name = "cron_wake"

    def parse(self, args: CronWakeArgs, reply: Any) -> int:
        """Return the count."""
        return int(reply)
