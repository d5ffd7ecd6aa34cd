"""Workflows as a worker extension: record a node and release its dependents in one Lua call.

A node's job carries ``wf`` in its envelope (and ``m`` for a map/starmap node, which this extension
invokes once per item). Its outcome is recorded by ``wf_finish.lua``, not the core finish script, and
a node dead-lettered by the core claim script fails its run (``wf_dead_letter``, a Lua hook).
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from aqueue._clock import now_ms
from aqueue._redis.scripts import source
from aqueue._worker.types import ClaimedJob, Outcome, OutcomeKind
from aqueue.errors import SerializationError
from aqueue.extensions import Call, LuaHooks, WorkerContext, WorkerExtension
from aqueue.workflows._failure import failure_info
from aqueue.workflows._scripts import LUA, WfFinish, WfFinishArgs, WfOutcome

__all__ = ["WorkflowContinuations"]


def _map_call(call: Call, mode: str) -> Call:
    """Return ``call`` applied to each item of the job's first argument (``map`` or ``starmap``)."""

    async def each(ctx: Mapping[str, Any], items: list[Any], *rest: Any, **kwargs: Any) -> list[Any]:
        if mode == "starmap":
            return [await call(ctx, *item, *rest, **kwargs) for item in items]
        return [await call(ctx, item, *rest, **kwargs) for item in items]

    return each


class WorkflowContinuations(WorkerExtension):
    """The worker extension that runs workflow nodes as continuations."""

    envelope_keys = frozenset({"wf", "m"})

    def __init__(self) -> None:
        self._context: WorkerContext | None = None

    def lua(self) -> LuaHooks:
        """Return the workflow library and its dead-letter hook (a dead node fails its run)."""
        return LuaHooks(library=source("wf_lib", LUA), on_dead="wf_dead_letter")

    def bind(self, context: WorkerContext) -> None:
        """Keep the worker's context: its scripts run ``wf_finish`` on the worker's transport."""
        self._context = context

    def wrap_call(self, call: Call, envelope: Any) -> Call:
        """Invoke a map/starmap node's task once per item."""
        mode = envelope.extra.get("m")
        return _map_call(call, mode) if mode else call

    def handles(self, outcome: Outcome) -> bool:
        """Return whether ``outcome`` is a workflow node's."""
        return outcome.envelope is not None and "wf" in outcome.envelope.extra

    def seal(self, outcome: Outcome) -> Outcome:
        """Encode a node's value (or its error); an unencodable value fails the node."""
        serializer = self._bound.serializer
        if outcome.kind is OutcomeKind.OK:
            try:
                return outcome.sealed(serializer(outcome.value))
            except Exception as e:
                error = SerializationError(f"a workflow step returned an unencodable value: {e}")
                outcome = outcome.failed(error)
        if outcome.kind is OutcomeKind.ERR:
            return outcome.sealed(serializer(_exception(outcome.value)))
        return outcome

    async def finish(self, outcomes: list[Outcome], capacity: int) -> tuple[list[bool], list[ClaimedJob]]:
        """Record ``outcomes``; return whether each was recorded and the dependents claimed for us.

        Nodes from another of the worker's queues than its first (``job.queue``) are recorded on
        theirs, one call each, and release their dependents without claiming them here.
        """
        if any(o.job.queue for o in outcomes):
            return await self._finish_elsewhere(outcomes, capacity)
        return await self._finish_on(self._bound.queue, outcomes, capacity)

    async def _finish_on(
        self, queue: str, outcomes: list[Outcome], capacity: int
    ) -> tuple[list[bool], list[ClaimedJob]]:
        context = self._bound
        now = now_ms()
        reply = await context.scripts.get(WfFinish)(
            WfFinishArgs(
                prefix=context.keys.prefix,
                queue=queue,
                now_ms=now,
                worker_id=context.worker_id,
                lease_ms=context.lease_ms,
                claim_limit=max(capacity, 0),
                outcomes=[self._fields(outcome, now) for outcome in outcomes],
            )
        )
        return reply.recorded, reply.claimed

    async def _finish_elsewhere(
        self, outcomes: list[Outcome], capacity: int
    ) -> tuple[list[bool], list[ClaimedJob]]:
        recorded: list[bool] = []
        claimed: list[ClaimedJob] = []
        for outcome in outcomes:  # rare (a worker on several queues): one call per outcome is fine
            queue = outcome.job.queue
            limit = 0 if queue else capacity
            done, jobs = await self._finish_on(queue or self._bound.queue, [outcome], limit)
            recorded += done
            claimed += jobs
        return recorded, claimed

    @property
    def _bound(self) -> WorkerContext:
        if self._context is None:
            raise RuntimeError("WorkflowContinuations used before the worker bound it")
        return self._context

    def _fields(self, outcome: Outcome, now: int) -> WfOutcome:
        kind = outcome.kind
        job = outcome.job
        return WfOutcome(
            job_id=job.job_id,
            token=job.token,
            kind=kind.value,
            retry_score=outcome.retry_score,
            times=f"{outcome.started_ms},{now},{job.job_try}",
            value=outcome.result if kind is OutcomeKind.OK else b"",
            error=outcome.result if kind is OutcomeKind.ERR else b"",
            info=self._failure_info(outcome) if kind is OutcomeKind.ERR else b"",
        )

    def _failure_info(self, outcome: Outcome) -> bytes:
        exc = _exception(outcome.value)
        run_id, _, node = outcome.job.job_id.rpartition(":")
        trace = getattr(exc, "__aqueue_traceback__", None) or "".join(traceback.format_exception(exc))
        info = failure_info(
            run_id,
            type(exc).__name__,
            str(exc),
            node=int(node) if node.isdigit() else None,
            task=outcome.task,
            job_id=outcome.job.job_id,
            traceback=trace,
        )
        return self._bound.serializer(info)


def _exception(value: Any) -> BaseException:
    return value if isinstance(value, BaseException) else RuntimeError(str(value))
