"""The workflow scripts' typed wrappers (``aqueue/workflows/_lua``), each run with ``wf_lib.lua``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from aqueue._redis.core import FINISH_LIB, claimed_jobs
from aqueue._redis.scripts import EXTENSIONS, Script
from aqueue._worker.types import ClaimedJob

__all__ = ["LUA", "WfCancel", "WfCancelArgs", "WfFinish", "WfFinishArgs", "WfFinishReply", "WfOutcome"]

LUA = "aqueue.workflows._lua"
WF_LIB = (LUA, "wf_lib")


class WfOutcome(NamedTuple):
    """One node attempt's outcome, as wf_finish.lua records it.

    ``times`` is ``"start_ms,finish_ms,try"``; ``value`` the encoded result (kind 'ok'); ``error``
    and ``info`` the encoded exception and failure info for error callbacks (kind 'err').
    """

    job_id: str
    token: str
    kind: str
    retry_score: int
    times: str
    value: bytes
    error: bytes
    info: bytes


class WfFinishArgs(NamedTuple):
    """Record node outcomes for worker ``worker_id``; claim up to ``claim_limit`` released dependents."""

    prefix: str
    queue: str
    now_ms: int
    worker_id: str
    lease_ms: int
    claim_limit: int
    outcomes: Sequence[WfOutcome]

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        out: list[Any] = [
            self.prefix,
            self.queue,
            self.now_ms,
            self.worker_id,
            self.lease_ms,
            self.claim_limit,
        ]
        for outcome in self.outcomes:
            out.extend(outcome)
        return out


class WfFinishReply(NamedTuple):
    """Per outcome whether it was recorded (False: fenced), and the dependents claimed for this worker."""

    recorded: list[bool]
    claimed: list[ClaimedJob]


class WfFinish(Script[WfFinishArgs, WfFinishReply]):
    """Record nodes' outcomes and release their dependents, atomically."""

    name = "wf_finish"
    package = LUA
    records_outcomes = True
    # EXTENSIONS: may_hand_off, on_attempt_end, on_enqueue(_batch) for released nodes and callbacks
    libraries = (FINISH_LIB, WF_LIB, EXTENSIONS)

    def parse(self, args: WfFinishArgs, reply: Any) -> WfFinishReply:
        """Split the reply: one flag per outcome, then 5 fields per claimed job."""
        count = len(args.outcomes)
        recorded = [bool(x) for x in reply[:count]]
        return WfFinishReply(recorded, claimed_jobs(reply[count:], args.worker_id))


class WfCancelArgs(NamedTuple):
    """Cancel workflow run ``run_id``."""

    prefix: str
    run_id: str
    now_ms: int

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        return list(self)


class WfCancel(Script[WfCancelArgs, bool]):
    """Cancel a run: queued nodes never start, running ones are flagged. Reply: whether it was running."""

    name = "wf_cancel"
    package = LUA
    libraries = (WF_LIB, EXTENSIONS)  # EXTENSIONS: wf_lib's wf_enqueue names the dispatchers

    def parse(self, args: WfCancelArgs, reply: Any) -> bool:
        """Return the flag."""
        return bool(reply)
