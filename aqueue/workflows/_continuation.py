"""The worker's hook for workflow nodes: record a node and release its dependents in one Lua call."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from aqueue._redis.connection import text
from aqueue._redis.scripts import register, source
from aqueue._worker.queue_ops import ClaimedJob, Outcome, QueueOps, now_ms
from aqueue.errors import SerializationError
from aqueue.workflows._failure import failure_info

LUA = "aqueue.workflows._lua"

FIELDS_PER_CLAIM = 5


class WorkflowContinuations:
    """A :class:`aqueue._worker.finisher.FinishExtension` for jobs whose envelope carries ``wf``."""

    def __init__(self, ops: QueueOps, serializer: Callable[[Any], bytes]) -> None:
        self.ops = ops
        self.serializer = serializer
        self.script = register(ops.redis, source("wf_lib", LUA), source("wf_finish", LUA), wire=ops.wire)

    def handles(self, outcome: Outcome) -> bool:
        """Return whether ``outcome`` is a workflow node's."""
        return bool(outcome.envelope) and "wf" in outcome.envelope  # type: ignore[operator]

    async def finish(self, outcomes: list[Outcome], capacity: int) -> tuple[list[bool], list[ClaimedJob]]:
        """Record ``outcomes``; return whether each was recorded and the dependents claimed for us."""
        ops = self.ops
        now = now_ms()
        argv: list[Any] = [ops.keys.prefix, ops.queue, now, ops.worker_id, ops.lease_ms, max(capacity, 0)]
        for outcome in outcomes:
            argv += self._fields(outcome, now)
        reply: list[Any] = await self.script(args=argv)
        flags = [bool(x) for x in reply[: len(outcomes)]]
        rest = reply[len(outcomes) :]
        claimed = [
            self._claimed(rest[i : i + FIELDS_PER_CLAIM]) for i in range(0, len(rest), FIELDS_PER_CLAIM)
        ]
        return flags, claimed

    def _claimed(self, fields: list[Any]) -> ClaimedJob:
        job_id = text(fields[0])
        tries = int(fields[3])
        return ClaimedJob(job_id, fields[1], int(fields[2]), tries, False, f"{self.ops.worker_id}:{tries}")

    def _fields(self, outcome: Outcome, now: int) -> list[Any]:
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
        return [
            outcome.job.job_id,
            outcome.job.token,
            kind,
            outcome.retry_score,
            times,
            value,
            error,
            info,
            "",
        ]

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
