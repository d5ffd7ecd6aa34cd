"""The worker's hook for workflow nodes: record a node and release its dependents in one Lua call."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from aqueue._worker.queue_ops import ClaimedJob, Outcome, QueueOps, now_ms
from aqueue.errors import SerializationError
from aqueue.workflows._failure import failure_info
from aqueue.workflows._scripts import WfFinish, WfFinishArgs, WfOutcome


class WorkflowContinuations:
    """A :class:`aqueue._worker.finisher.FinishExtension` for jobs whose envelope carries ``wf``."""

    def __init__(self, ops: QueueOps, serializer: Callable[[Any], bytes]) -> None:
        self.ops = ops
        self.serializer = serializer
        self.script = ops.scripts.get(WfFinish)

    def handles(self, outcome: Outcome) -> bool:
        """Return whether ``outcome`` is a workflow node's."""
        return bool(outcome.envelope) and "wf" in outcome.envelope  # type: ignore[operator]

    async def finish(self, outcomes: list[Outcome], capacity: int) -> tuple[list[bool], list[ClaimedJob]]:
        """Record ``outcomes``; return whether each was recorded and the dependents claimed for us."""
        ops = self.ops
        now = now_ms()
        reply = await self.script(
            WfFinishArgs(
                prefix=ops.keys.prefix,
                queue=ops.queue,
                now_ms=now,
                worker_id=ops.worker_id,
                lease_ms=ops.lease_ms,
                claim_limit=max(capacity, 0),
                outcomes=[self._fields(outcome, now) for outcome in outcomes],
            )
        )
        return reply.recorded, reply.claimed

    def _fields(self, outcome: Outcome, now: int) -> WfOutcome:
        kind, value, error, info = outcome.kind, b"", b"", b""
        if kind == "ok":
            try:
                value = self.serializer(outcome.value)
            except Exception as e:
                kind, outcome.value = (
                    "err",
                    SerializationError(f"a workflow step returned an unencodable value: {e}"),
                )
        if kind == "err":
            error, info = self._failure(outcome)
        times = f"{outcome.started_ms},{now},{outcome.job.job_try}"
        return WfOutcome(
            job_id=outcome.job.job_id,
            token=outcome.job.token,
            kind=kind,
            retry_score=outcome.retry_score,
            times=times,
            value=value,
            error=error,
            info=info,
        )

    def _failure(self, outcome: Outcome) -> tuple[bytes, bytes]:
        exc = outcome.value if isinstance(outcome.value, BaseException) else RuntimeError(str(outcome.value))
        run_id, _, node = outcome.job.job_id.rpartition(":")
        text = getattr(exc, "__aqueue_traceback__", None) or "".join(traceback.format_exception(exc))
        task = (outcome.envelope or {}).get("f")
        info = failure_info(
            run_id,
            type(exc).__name__,
            str(exc),
            node=int(node) if node.isdigit() else None,
            task=task,
            job_id=outcome.job.job_id,
            traceback=text,
        )
        return self.serializer(exc), self.serializer(info)
