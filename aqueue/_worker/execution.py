"""Run one job: decode → resolve task → run with timeout → build the outcome → seal (encode) it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arq.worker import Function, RetryJob
from arq.worker import Retry as ArqRetry

from aqueue import _logging
from aqueue._clock import ms_to_datetime, now_ms
from aqueue._envelope import JobEnvelope, encode_result, result_envelope
from aqueue._redis.keys import Keys, with_newest_try
from aqueue._worker.arq_log import ArqJobLog
from aqueue._worker.types import ClaimedJob, Outcome, OutcomeKind
from aqueue.errors import (
    DeserializationError,
    JobAborted,
    MaxTriesExceeded,
    SerializationError,
    UnknownTaskError,
)
from aqueue.extensions import Call, WorkerExtension, overrides
from aqueue.progress import progress_reporter
from aqueue.tasks import Task

logger = logging.getLogger("aqueue.worker")

Hook = Callable[[dict[str, Any]], Awaitable[Any]] | None
_UNDECODED = JobEnvelope("<unknown>", (), {}, 0)


@dataclass(frozen=True, slots=True)
class Defaults:
    """Worker-wide job defaults that tasks may override, and arq's ``retry_jobs``/``allow_abort_jobs``."""

    timeout_s: float | None
    max_tries: int
    keep_result_s: float
    keep_result_forever: bool
    retry_jobs: bool = True
    allow_abort_jobs: bool = True


@dataclass(frozen=True, slots=True)
class Policy:
    """What a job's task and the worker's defaults (or the job's own overrides) say about one attempt."""

    max_tries: int
    timeout_s: float | None
    ttl_ms: int  # how long the result is kept: -1 forever, 0 not at all


@dataclass(slots=True)
class Attempt:
    """What one run needs besides the claim: the decoded envelope, its task, and their policy."""

    envelope: JobEnvelope
    function: Function | None = None
    task: Task[Any, Any] | None = None
    policy: Policy | None = None
    start_ms: int = 0

    @property
    def name(self) -> str:
        """Return the task name."""
        return self.envelope.name


class _Hooks:
    """The extensions that override each per-job hook, looked up once (unused hooks cost nothing).

    An extension that owns envelope fields is asked about a job only if the job carries one of them:
    a plain job never reaches the workflow or cron hooks.
    """

    def __init__(self, extensions: Sequence[WorkerExtension]) -> None:
        self._extensions = list(extensions)
        self._plain = self._select(lambda e: not e.envelope_keys)
        self._by_keys: dict[frozenset[str], _HookSet] = {}

    def _select(self, wanted: Callable[[WorkerExtension], bool]) -> _HookSet:
        chosen = [e for e in self._extensions if wanted(e)]

        def using(hook: str, *also: str) -> list[WorkerExtension]:
            return [e for e in chosen if any(overrides(e, h) for h in (hook, *also))]

        return _HookSet(
            using("job_context"),
            using("wrap_call"),
            using("on_start", "on_start_at"),
            using("handles"),
            using("on_outcome"),
            using("on_progress"),
            using("on_end", "on_end_batch"),
        )

    def for_envelope(self, envelope: JobEnvelope | None) -> _HookSet:
        """Return the hooks that apply to a job with ``envelope``."""
        if envelope is None or not envelope.extra:
            return self._plain
        keys = frozenset(envelope.extra)
        found = self._by_keys.get(keys)
        if found is None:
            found = self._select(lambda e: not e.envelope_keys or bool(e.envelope_keys & keys))
            self._by_keys[keys] = found
        return found


@dataclass(frozen=True, slots=True)
class _HookSet:
    context: list[WorkerExtension]
    wrap: list[WorkerExtension]
    start: list[WorkerExtension]
    recorders: list[WorkerExtension]
    observers: list[WorkerExtension]
    progress: list[WorkerExtension]
    enders: list[WorkerExtension]


class JobRunner:
    """Turns a claimed job into a sealed Outcome. Cancellation for shutdown or a lost lease propagates."""

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
        extensions: Sequence[WorkerExtension] = (),
        job_log: ArqJobLog | None = None,
    ) -> None:
        self.functions, self.tasks, self.queue, self.ctx = functions, tasks, queue, ctx
        self.serializer, self.deserializer, self.defaults = serializer, deserializer, defaults
        self.on_job_start, self.on_job_end = on_job_start, on_job_end
        self.keys = keys or Keys()
        self._hooks = _Hooks(extensions)
        self.job_log = job_log
        self._policies: dict[str, Policy] = {}  # per task name, for jobs without overrides

    async def run(self, job: ClaimedJob, aborting: Callable[[], bool]) -> Outcome:
        """Run ``job``; ``aborting()`` tells whether a cancellation came from ``Job.abort``."""
        attempt = self._decode(job)
        if isinstance(attempt, Outcome):
            return self._logged(self.seal(attempt), started=False)
        wanted = attempt.envelope.job_try
        if wanted is not None and wanted > job.job_try:
            job = await self._adopt_try(job, wanted)
        problem = self._precheck(job, attempt)
        if problem is not None:
            return self._logged(self.seal(self._final(job, attempt, problem)), started=False)
        hooks = self._hooks.for_envelope(attempt.envelope)
        if _logging.wanted.job_fields:  # each job runs in its own task: this is the job's own context
            queue = job.queue or self.queue
            fields = {"job_id": job.job_id, "task": attempt.name, "queue": queue, "try": job.job_try}
            _logging.current_job.set(fields)
        outcome = self.seal(await self._call(job, attempt, aborting, hooks), hooks)
        return outcome if self.job_log is None else self._logged(outcome, started=True)

    def _logged(self, outcome: Outcome, *, started: bool) -> Outcome:
        """Write arq's line for how the job ended, if ``log_jobs`` is on."""
        if self.job_log is not None:
            max_tries = self._policy(self.functions.get(outcome.task), outcome.envelope).max_tries
            self.job_log.ended(outcome, outcome.task, started=started, max_tries=max_tries)
        return outcome

    async def _adopt_try(self, job: ClaimedJob, job_try: int) -> ClaimedJob:
        """Count tries from the producer's ``_job_try`` (the envelope's ``t``), higher than ours, as arq.

        The newest try in the job's delivery history is raised to it too (the claim script counts
        from it), so the next delivery is ``job_try + 1``; the claim's fencing token is unchanged.
        """
        redis, field = self.ctx["redis"], job.job_id
        history = await redis.hget(self.keys.deliveries, field)
        await redis.hset(self.keys.deliveries, field, with_newest_try(history, job_try))
        return job._replace(job_try=job_try)

    def _decode(self, job: ClaimedJob) -> Attempt | Outcome:
        if not job.payload:
            error = JobAborted(f"job {job.job_id} expired before it could run")
            return self._final(job, Attempt(_UNDECODED), error)
        try:
            envelope = JobEnvelope.decode(self.deserializer(job.payload))
        except Exception as e:
            logger.error("job %s has a corrupt payload: %s", job.job_id, e)
            err = DeserializationError(f"job {job.job_id} has a payload that cannot be decoded: {e}")
            return self._final(job, Attempt(_UNDECODED), err)
        fn = self.functions.get(envelope.name)
        return Attempt(envelope, fn, self.tasks.get(envelope.name), self._policy(fn, envelope))

    def _precheck(self, job: ClaimedJob, attempt: Attempt) -> BaseException | None:
        if attempt.function is None:
            known = ", ".join(sorted(self.functions)) or "none"
            if self.job_log is None:
                logger.warning("job %s: no task named %r (known: %s)", job.job_id, attempt.name, known)
            return UnknownTaskError(
                f"no task named {attempt.name!r} is registered on this worker (known: {known})"
            )
        if job.aborted and self.defaults.allow_abort_jobs:
            return JobAborted(f"job {job.job_id} was aborted before it started")
        max_tries = self._max_tries(attempt)
        if job.job_try > max_tries:
            return MaxTriesExceeded(
                f"{attempt.name}: job {job.job_id} used up its {max_tries} tries "
                f"(max {max_tries} retries exceeded)"
            )
        return None

    def _max_tries(self, attempt: Attempt) -> int:
        return (attempt.policy or self._policy(attempt.function, None)).max_tries

    def _policy(self, fn: Function | None, envelope: JobEnvelope | None) -> Policy:
        """Return the policy of a job of task ``fn`` (built once per task for jobs without overrides)."""
        options = envelope.options if envelope is not None else None
        if options or fn is None:
            return self._build_policy(fn, options or {})
        policy = self._policies.get(fn.name)
        if policy is None:
            policy = self._policies[fn.name] = self._build_policy(fn, {})
        return policy

    def _build_policy(self, fn: Function | None, options: Mapping[str, Any]) -> Policy:
        defaults = self.defaults
        max_tries = options.get("max_tries")
        if not max_tries:
            max_tries = defaults.max_tries if fn is None or fn.max_tries is None else fn.max_tries
        timeout_s = options.get("timeout")
        if not timeout_s:
            timeout_s = defaults.timeout_s if fn is None or fn.timeout_s is None else fn.timeout_s
        timeout = None if timeout_s is None else float(timeout_s)
        return Policy(int(max_tries), timeout, self._ttl_ms(fn, options))

    def _ttl_ms(self, fn: Function | None, options: Mapping[str, Any]) -> int:
        override = options.get("keep_result")
        if override is not None:
            return int(float(override) * 1000)
        forever = (
            self.defaults.keep_result_forever
            if fn is None or fn.keep_result_forever is None
            else fn.keep_result_forever
        )
        if forever:
            return -1
        keep_s = self.defaults.keep_result_s if fn is None or fn.keep_result_s is None else fn.keep_result_s
        return int(keep_s * 1000)

    def _job_ctx(self, job: ClaimedJob, attempt: Attempt, hooks: _HookSet) -> dict[str, Any]:
        envelope = attempt.envelope
        ctx = {
            **self.ctx,
            "job_id": job.job_id,
            "job_try": job.job_try,
            "enqueue_time": ms_to_datetime(envelope.enqueue_ms),
            "score": job.score,
            "queue_name": job.queue or self.queue,
            "envelope": envelope,
            "progress": progress_reporter(
                self.ctx["redis"],
                self.keys,
                job.job_id,
                self.serializer,
                _progress_observer(hooks.progress, job, envelope) if hooks.progress else None,
            ),
        }
        for extension in hooks.context:
            ctx.update(extension.job_context(job, envelope) or {})
        return ctx

    @staticmethod
    def _invocation(fn: Function, envelope: JobEnvelope, hooks: _HookSet) -> Call:
        call: Call = fn.coroutine
        for extension in hooks.wrap:
            call = extension.wrap_call(call, envelope)
        return call

    async def _call(
        self, job: ClaimedJob, attempt: Attempt, aborting: Callable[[], bool], hooks: _HookSet
    ) -> Outcome:
        fn = attempt.function
        assert fn is not None
        ctx = self._job_ctx(job, attempt, hooks)
        call = self._invocation(fn, attempt.envelope, hooks)
        timeout_s = (attempt.policy or self._policy(fn, attempt.envelope)).timeout_s
        if self.on_job_start is not None:
            await self.on_job_start(ctx)
        attempt.start_ms = started = now_ms()
        for extension in hooks.start:
            extension.on_start_at(job, attempt.envelope, started)
        if self.job_log is not None:
            self.job_log.started(job, attempt.envelope, attempt.start_ms)
        deadline = asyncio.timeout(timeout_s or None)
        try:
            async with deadline:
                value = await call(ctx, *attempt.envelope.args, **attempt.envelope.kwargs)
        except asyncio.CancelledError as e:
            outcome = self._cancelled(job, attempt, aborting(), e)
        except TimeoutError as e:
            expired = deadline.expired() and timeout_s
            err = TimeoutError(f"{attempt.name} timed out after {timeout_s:g}s") if expired else e
            outcome = self._failed(job, attempt, err)
        except Exception as e:
            outcome = self._failed(job, attempt, e)
        else:
            logger.debug("%s job %s complete", attempt.name, job.job_id)
            outcome = self._outcome(job, attempt, OutcomeKind.OK, value)
        if self.on_job_end is not None:
            await self.on_job_end(ctx)
        return outcome

    def _cancelled(
        self, job: ClaimedJob, attempt: Attempt, aborting: bool, error: asyncio.CancelledError
    ) -> Outcome:
        """Turn a cancellation into an outcome: aborted, or (raised by the task itself) retried as arq.

        A cancellation of this asyncio task for shutdown or a lost lease propagates.
        """
        current = asyncio.current_task()
        if aborting:
            if current is not None:
                current.uncancel()
            return self._final(job, attempt, JobAborted(f"job {job.job_id} was aborted while running"))
        if current is not None and current.cancelling():
            raise error
        return self._failed(job, attempt, RetryJob())  # the task raised CancelledError: arq runs it again

    def _failed(self, job: ClaimedJob, attempt: Attempt, exc: Exception) -> Outcome:
        """Retry the job or fail it with ``exc``.

        An explicit ``Retry``/``RetryJob`` always goes back to the queue, as in arq (the delivery after
        the last try fails without running); an exception the task retries on (``retry_on``) fails at
        once on the last try, keeping the error. ``retry_jobs=False``: no retries at all.
        """
        defer_ms = self._retry_delay_ms(job, attempt, exc) if self.defaults.retry_jobs else None
        if defer_ms is None:
            if self.job_log is None:
                logger.error(
                    "%s job %s failed: %s: %s",
                    attempt.name,
                    job.job_id,
                    type(exc).__name__,
                    exc,
                    exc_info=exc,
                )
            return self._final(job, attempt, exc)
        max_tries = self._max_tries(attempt)
        if job.job_try >= max_tries and not isinstance(exc, ArqRetry | RetryJob):
            err = MaxTriesExceeded(
                f"{attempt.name}: gave up after {job.job_try} of {max_tries} tries; "
                f"last error {type(exc).__name__}: {exc}"
            )
            err.__cause__ = exc
            return self._final(job, attempt, err)
        logger.debug("%s job %s retrying in %d ms", attempt.name, job.job_id, defer_ms)
        return Outcome(
            job,
            OutcomeKind.RETRY,
            exc,
            attempt.envelope,
            retry_score=now_ms() + defer_ms,
            started_ms=attempt.start_ms,
        )

    def _retry_delay_ms(self, job: ClaimedJob, attempt: Attempt, exc: Exception) -> int | None:
        task = attempt.task
        backoff = task.retry_backoff if task is not None else None
        if isinstance(exc, ArqRetry):
            explicit = getattr(exc, "explicit_defer", exc.defer_score is not None)
            if explicit or backoff is None:
                return exc.defer_score or 0
            return int(backoff.delay_s(job.job_try) * 1000)
        if isinstance(exc, RetryJob):
            return 0
        if task is not None and task.retry_on and isinstance(exc, task.retry_on):
            return int(backoff.delay_s(job.job_try) * 1000) if backoff else 0
        return None

    def _final(self, job: ClaimedJob, attempt: Attempt, exc: BaseException) -> Outcome:
        return self._outcome(job, attempt, OutcomeKind.ERR, exc)

    def _outcome(self, job: ClaimedJob, attempt: Attempt, kind: OutcomeKind, value: Any) -> Outcome:
        return Outcome(
            job,
            kind,
            value,
            None if attempt.envelope is _UNDECODED else attempt.envelope,
            ttl_ms=(attempt.policy or self._policy(attempt.function, None)).ttl_ms,
            started_ms=attempt.start_ms or now_ms(),  # one that never started: when it ended
        )

    # -- sealing: the one place an outcome's value is encoded --------------------------------------

    def observers(self, outcome: Outcome) -> list[WorkerExtension]:
        """Return the extensions that observe ``outcome`` once it is recorded (their on_outcome)."""
        return self._hooks.for_envelope(outcome.envelope).observers

    def ended(self, outcomes: Sequence[Outcome]) -> None:
        """Tell the extensions that observe outcomes synchronously of these, just recorded (on_end_batch).

        Each is told once per batch of the outcomes that apply to it, in order (a plain batch: all).
        """
        hooks = self._hooks
        if all(o.envelope is None or not o.envelope.extra for o in outcomes):  # plain jobs: one set
            groups = [(hooks.for_envelope(None), outcomes)]
        else:
            by_set: dict[int, tuple[_HookSet, list[Outcome]]] = {}
            for outcome in outcomes:
                found = hooks.for_envelope(outcome.envelope)
                by_set.setdefault(id(found), (found, []))[1].append(outcome)
            groups = list(by_set.values())
        for found, batch in groups:
            for extension in found.enders:
                try:
                    extension.on_end_batch(batch)
                except Exception:
                    logger.exception("extension %r failed to observe outcomes", extension)

    def seal(self, outcome: Outcome, hooks: _HookSet | None = None) -> Outcome:
        """Encode ``outcome`` for whoever records it: an extension that handles it, or the core.

        A value that cannot be encoded turns the outcome into a failure that says so, here and only
        here, so the worker counts what is recorded.
        """
        for extension in (hooks or self._hooks.for_envelope(outcome.envelope)).recorders:
            if extension.handles(outcome):
                return extension.seal(outcome)
        if outcome.kind is OutcomeKind.RETRY or not outcome.ttl_ms:
            return outcome
        try:
            return outcome.sealed(encode_result(self.serializer, self._result_envelope(outcome)))
        except Exception as e:
            problem = _unencodable(outcome, e)
            logger.warning("job %s: %s", outcome.job.job_id, problem)
            if self.job_log is not None:
                self.job_log.unencodable(outcome, e)
        failure = outcome.failed(SerializationError(problem))
        return failure.sealed(self._encode_failure(failure, problem))

    def _encode_failure(self, outcome: Outcome, problem: str) -> bytes:
        """Encode a failure to encode, trying simpler forms until the codec takes one.

        The SerializationError itself; its text (arq's way: arq's producers raise their own
        SerializationError for a failure stored as text); the text without the job's arguments. If
        the codec takes none of them, the job still finishes, without a result.
        """
        envelope = self._result_envelope(outcome)
        for fallback in ({}, {"r": problem}, {"r": problem, "a": [], "k": {}}):
            try:
                return self.serializer({**envelope, **fallback})
            except Exception:
                continue
        logger.critical(
            "job %s: %s; nothing can be encoded: it finishes without a result", outcome.job.job_id, problem
        )
        return b""

    def _result_envelope(self, outcome: Outcome) -> dict[str, Any]:
        envelope = outcome.envelope or _UNDECODED
        value = outcome.value
        if isinstance(value, JobAborted) and outcome.envelope is not None:  # aborted (not expired)
            value = asyncio.CancelledError(
                str(value)
            )  # arq's record of an abort: its Job.abort() looks for it
        return result_envelope(
            job_id=outcome.job.job_id,
            name=envelope.name,
            args=envelope.args,  # as decoded: a list from JSON (no tag), arq's tuple from pickle
            kwargs=envelope.kwargs,
            job_try=outcome.job.job_try,
            enqueue_ms=envelope.enqueue_ms,
            success=outcome.kind is OutcomeKind.OK,
            value=value,
            start_ms=outcome.started_ms,
            finish_ms=now_ms(),
            queue=outcome.job.queue or self.queue,
        )


def _progress_observer(
    extensions: Sequence[WorkerExtension], job: ClaimedJob, envelope: JobEnvelope
) -> Callable[[Any, Any, str, int], None]:
    """Return what tells ``extensions`` of each progress report of ``job`` (their ``on_progress``)."""

    def observe(_pipe: Any, value: Any, message: str, at_ms: int) -> None:
        for extension in extensions:
            extension.on_progress(job, envelope, value, message, at_ms)

    return observe


def _unencodable(outcome: Outcome, error: Exception) -> str:
    """Say which outcome the job serializer refused, and why."""
    if outcome.kind is OutcomeKind.OK:
        return f"{outcome.task} returned a value that cannot be encoded: {error}"
    value = outcome.value
    return f"{outcome.task} raised {type(value).__name__}: {value}, which cannot be encoded ({error})"
