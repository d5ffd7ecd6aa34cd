"""Run one job: decode → resolve task → run with timeout → build the outcome to record."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from arq.worker import Function
from arq.worker import Retry as ArqRetry

from aqueue._envelope import result_envelope
from aqueue._redis.keys import Keys
from aqueue._worker.queue_ops import ClaimedJob, Outcome, now_ms
from aqueue.errors import (
    DeserializationError,
    JobAborted,
    MaxTriesExceeded,
    SerializationError,
    UnknownTaskError,
)
from aqueue.jobs import ms_to_datetime
from aqueue.progress import progress_reporter
from aqueue.tasks import Task

logger = logging.getLogger("aqueue.worker")

Hook = Callable[[dict[str, Any]], Awaitable[Any]] | None


@dataclass(frozen=True, slots=True)
class Defaults:
    """Worker-wide job defaults that tasks may override."""

    timeout_s: float | None
    max_tries: int
    keep_result_s: float
    keep_result_forever: bool


@dataclass(slots=True)
class Attempt:
    """What one run needs besides the claim: the decoded call and its task."""

    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    enqueue_ms: int
    envelope: dict[str, Any]
    function: Function | None = None
    task: Task[Any, Any] | None = None
    start_ms: int = field(default_factory=now_ms)


class JobRunner:
    """Turns a claimed job into an Outcome. Cancellation for shutdown or a lost lease propagates."""

    def __init__(
        self,
        *,
        functions: Mapping[str, Function],
        tasks: Mapping[str, Task[Any, Any]],
        queue: str,
        ctx: dict[str, Any],
        serializer: Callable[[Any], bytes],
        deserializer: Callable[[bytes], Any],
        defaults: Defaults,
        on_job_start: Hook = None,
        on_job_end: Hook = None,
        keys: Keys | None = None,
    ) -> None:
        self.functions, self.tasks, self.queue, self.ctx = functions, tasks, queue, ctx
        self.serializer, self.deserializer, self.defaults = serializer, deserializer, defaults
        self.on_job_start, self.on_job_end = on_job_start, on_job_end
        self.keys = keys or Keys()

    async def run(self, job: ClaimedJob, aborting: Callable[[], bool]) -> Outcome:
        """Run ``job``; ``aborting()`` tells whether a cancellation came from ``Job.abort``."""
        attempt = self._decode(job)
        if isinstance(attempt, Outcome):
            return attempt
        problem = self._precheck(job, attempt)
        if problem is not None:
            return self._final(job, attempt, problem)
        return await self._call(job, attempt, aborting)

    def _decode(self, job: ClaimedJob) -> Attempt | Outcome:
        empty = Attempt("<unknown>", [], {}, 0, {})
        if not job.payload:
            return self._final(job, empty, JobAborted(f"job {job.job_id} expired before it could run"))
        try:
            env = self.deserializer(job.payload)
            attempt = Attempt(env["f"], list(env["a"]), dict(env["k"]), int(env["et"]), env)
        except Exception as e:
            logger.error("job %s has a corrupt payload: %s", job.job_id, e)
            err = DeserializationError(f"job {job.job_id} has a payload that cannot be decoded: {e}")
            return self._final(job, empty, err)
        attempt.function = self.functions.get(attempt.name)
        attempt.task = self.tasks.get(attempt.name)
        return attempt

    def _precheck(self, job: ClaimedJob, attempt: Attempt) -> BaseException | None:
        if attempt.function is None:
            known = ", ".join(sorted(self.functions)) or "none"
            logger.warning("job %s: no task named %r (known: %s)", job.job_id, attempt.name, known)
            return UnknownTaskError(
                f"no task named {attempt.name!r} is registered on this worker (known: {known})"
            )
        if job.aborted:
            return JobAborted(f"job {job.job_id} was aborted before it started")
        max_tries = self._max_tries(attempt)
        if job.job_try > max_tries:
            return MaxTriesExceeded(f"{attempt.name}: job {job.job_id} used up its {max_tries} tries")
        return None

    def _max_tries(self, attempt: Attempt) -> int:
        override = attempt.envelope.get("o", {}).get("max_tries")
        if override:
            return int(override)
        fn = attempt.function
        return self.defaults.max_tries if fn is None or fn.max_tries is None else fn.max_tries

    def _timeout_s(self, attempt: Attempt) -> float | None:
        override = attempt.envelope.get("o", {}).get("timeout")
        if override:
            return float(override)
        fn = attempt.function
        return self.defaults.timeout_s if fn is None or fn.timeout_s is None else fn.timeout_s

    def _job_ctx(self, job: ClaimedJob, attempt: Attempt) -> dict[str, Any]:
        ctx = {
            **self.ctx,
            "job_id": job.job_id,
            "job_try": job.job_try,
            "enqueue_time": ms_to_datetime(attempt.enqueue_ms),
            "score": job.score,
            "queue_name": self.queue,
            "envelope": attempt.envelope,
            "progress": progress_reporter(self.ctx["redis"], self.keys, job.job_id, self.serializer),
        }
        cron = attempt.envelope.get("cron")
        if cron:  # a scheduled run: which cron job, and the slot it is for
            ctx["cron_name"], ctx["scheduled_time"] = cron[0], ms_to_datetime(cron[1])
        return ctx

    async def _call(self, job: ClaimedJob, attempt: Attempt, aborting: Callable[[], bool]) -> Outcome:
        fn = attempt.function
        assert fn is not None
        ctx = self._job_ctx(job, attempt)
        timeout_s = self._timeout_s(attempt)
        if self.on_job_start is not None:
            await self.on_job_start(ctx)
        attempt.start_ms = now_ms()
        deadline = asyncio.timeout(timeout_s or None)
        try:
            async with deadline:
                value = await self._invoke(fn, ctx, attempt)
        except asyncio.CancelledError:
            if not aborting():
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            outcome = self._final(job, attempt, JobAborted(f"job {job.job_id} was aborted while running"))
        except TimeoutError as e:
            expired = deadline.expired() and timeout_s
            err = TimeoutError(f"{attempt.name} timed out after {timeout_s:g}s") if expired else e
            outcome = self._failed(job, attempt, err)
        except Exception as e:
            outcome = self._failed(job, attempt, e)
        else:
            outcome = self._success(job, attempt, value)
        if self.on_job_end is not None:
            await self.on_job_end(ctx)
        return outcome

    @staticmethod
    async def _invoke(fn: Function, ctx: dict[str, Any], attempt: Attempt) -> Any:
        """Call the task once, or once per item for a workflow's map/starmap job (mode ``m``)."""
        mode = attempt.envelope.get("m")
        if not mode:
            return await fn.coroutine(ctx, *attempt.args, **attempt.kwargs)
        items, rest = attempt.args[0], attempt.args[1:]
        if mode == "starmap":
            return [await fn.coroutine(ctx, *item, *rest, **attempt.kwargs) for item in items]
        return [await fn.coroutine(ctx, item, *rest, **attempt.kwargs) for item in items]

    def _failed(self, job: ClaimedJob, attempt: Attempt, exc: Exception) -> Outcome:
        defer_ms = self._retry_delay_ms(job, attempt, exc)
        if defer_ms is None:
            logger.error(
                "%s job %s failed: %s: %s", attempt.name, job.job_id, type(exc).__name__, exc, exc_info=exc
            )
            return self._final(job, attempt, exc)
        max_tries = self._max_tries(attempt)
        if job.job_try >= max_tries:
            err = MaxTriesExceeded(
                f"{attempt.name}: gave up after {job.job_try} of {max_tries} tries; "
                f"last error {type(exc).__name__}: {exc}"
            )
            err.__cause__ = exc
            return self._final(job, attempt, err)
        logger.debug("%s job %s retrying in %d ms", attempt.name, job.job_id, defer_ms)
        return Outcome(job, "retry", retry_score=now_ms() + defer_ms, envelope=attempt.envelope, value=exc)

    def _retry_delay_ms(self, job: ClaimedJob, attempt: Attempt, exc: Exception) -> int | None:
        task = attempt.task
        backoff = task.retry_backoff if task is not None else None
        if isinstance(exc, ArqRetry):
            explicit = getattr(exc, "explicit_defer", exc.defer_score is not None)
            if explicit or backoff is None:
                return exc.defer_score or 0
            return int(backoff.delay_s(job.job_try) * 1000)
        if task is not None and task.retry_on and isinstance(exc, task.retry_on):
            return int(backoff.delay_s(job.job_try) * 1000) if backoff else 0
        return None

    def _success(self, job: ClaimedJob, attempt: Attempt, value: Any) -> Outcome:
        logger.debug("%s job %s complete", attempt.name, job.job_id)
        return self._outcome(job, attempt, "ok", value)

    def _final(self, job: ClaimedJob, attempt: Attempt, exc: BaseException) -> Outcome:
        return self._outcome(job, attempt, "err", exc)

    def _outcome(self, job: ClaimedJob, attempt: Attempt, kind: str, value: Any) -> Outcome:
        ttl_ms = 0 if "wf" in attempt.envelope else self._ttl_ms(attempt)  # workflow results live in the run
        result = self._encode_result(job, attempt, kind == "ok", value) if ttl_ms else b""
        return Outcome(
            job,
            kind,
            result=result,
            ttl_ms=ttl_ms,
            envelope=attempt.envelope,
            value=value,
            started_ms=attempt.start_ms,
        )

    def _ttl_ms(self, attempt: Attempt) -> int:
        override = attempt.envelope.get("o", {}).get("keep_result")
        if override is not None:
            return int(float(override) * 1000)
        fn = attempt.function
        forever = (
            self.defaults.keep_result_forever
            if fn is None or fn.keep_result_forever is None
            else fn.keep_result_forever
        )
        if forever:
            return -1
        keep_s = self.defaults.keep_result_s if fn is None or fn.keep_result_s is None else fn.keep_result_s
        return int(keep_s * 1000)

    def _encode_result(self, job: ClaimedJob, attempt: Attempt, success: bool, value: Any) -> bytes:
        envelope = result_envelope(
            job_id=job.job_id,
            name=attempt.name,
            args=attempt.args,
            kwargs=attempt.kwargs,
            job_try=job.job_try,
            enqueue_ms=attempt.enqueue_ms,
            success=success,
            value=value,
            start_ms=attempt.start_ms,
            finish_ms=now_ms(),
            queue=self.queue,
        )
        try:
            return self.serializer(envelope)
        except Exception as e:
            what = "returned" if success else "raised"
            envelope["s"], envelope["r"] = (
                False,
                SerializationError(f"{attempt.name} {what} a value that cannot be encoded: {e}"),
            )
            return self.serializer(envelope)
