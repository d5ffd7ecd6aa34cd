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
from aqueue._redis.connection import text
from aqueue._redis.scripts import FastScript, register, source
from aqueue._worker.types import ClaimedJob, Outcome, OutcomeKind, fencing_token
from aqueue.errors import SerializationError
from aqueue.extensions import Call, LuaHooks, WorkerContext, WorkerExtension
from aqueue.workflows._failure import failure_info

LUA = "aqueue.workflows._lua"
FIELDS_PER_CLAIM = 5

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
        self._script: FastScript | None = None

    def lua(self) -> LuaHooks:
        """Return the workflow library and its dead-letter hook (a dead node fails its run)."""
        return LuaHooks(library=source("wf_lib", LUA), on_dead="wf_dead_letter")

    def bind(self, context: WorkerContext) -> None:
        """Register ``wf_finish`` on the worker's connection."""
        self._context = context
        wire = context.ops.wire
        self._script = register(context.redis, source("wf_lib", LUA), source("wf_finish", LUA), wire=wire)

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
        """Record ``outcomes``; return whether each was recorded and the dependents claimed for us."""
        context, script = self._bound, self._script
        assert script is not None
        now = now_ms()
        argv: list[Any] = [
            context.keys.prefix,
            context.queue,
            now,
            context.worker_id,
            context.lease_ms,
            max(capacity, 0),
        ]
        for outcome in outcomes:
            argv += self._fields(outcome, now)
        reply: list[Any] = await script(args=argv)
        flags = [bool(x) for x in reply[: len(outcomes)]]
        rest = reply[len(outcomes) :]
        claimed = [
            self._claimed(rest[i : i + FIELDS_PER_CLAIM]) for i in range(0, len(rest), FIELDS_PER_CLAIM)
        ]
        return flags, claimed

    @property
    def _bound(self) -> WorkerContext:
        if self._context is None:
            raise RuntimeError("WorkflowContinuations used before the worker bound it")
        return self._context

    def _claimed(self, fields: list[Any]) -> ClaimedJob:
        job_id, tries = text(fields[0]), int(fields[3])
        return ClaimedJob(
            job_id, fields[1], int(fields[2]), tries, False, fencing_token(self._bound.worker_id, tries)
        )

    def _fields(self, outcome: Outcome, now: int) -> list[Any]:
        value = outcome.result if outcome.kind is OutcomeKind.OK else b""
        error = outcome.result if outcome.kind is OutcomeKind.ERR else b""
        info = self._failure_info(outcome) if outcome.kind is OutcomeKind.ERR else b""
        times = f"{outcome.started_ms},{now},{outcome.job.job_try}"
        job = outcome.job
        return [job.job_id, job.token, outcome.kind.value, outcome.retry_score, times, value, error, info, ""]

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
