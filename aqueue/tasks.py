"""Tasks: the ``@task`` decorator, task options, ``Retry`` and retry backoff.

A ``Task[P, R]`` keeps its function's parameters after ``ctx`` (``P``) and its result (``R``, the
awaited value for an ``async def``), so ``await add.enqueue(1, 2)`` is checked against ``add`` and
gives a ``Job[int]``. Type checkers forbid keyword parameters between ``*args: P.args`` and
``**kwargs: P.kwargs`` (PEP 612), so a call that passes an enqueue option (``_job_id``,
``_defer_by``, …) matches an overload that checks the option and keeps ``R`` but not the
arguments. The overloads are declarations only: at run time ``enqueue`` is the one function below.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, Protocol, TypeVar, overload

from arq.cron import CronJob as ArqCronJob
from arq.worker import Function
from arq.worker import Retry as ArqRetry
from arq.worker import func as arq_func

from aqueue._clock import Seconds, to_seconds
from aqueue._imports import import_string
from aqueue._limits import Limits, RateLike, parse_limits
from aqueue._naming import task_name
from aqueue._priority import check_priority
from aqueue.client import default_client
from aqueue.errors import ConfigurationError

if TYPE_CHECKING:
    from aqueue.jobs import Job
    from aqueue.workflows import Signature

__all__ = [
    "Backoff",
    "Executor",
    "Retry",
    "Seconds",
    "Task",
    "TaskDecorator",
    "TaskLike",
    "as_task",
    "task",
    "task_from_arq",
    "task_name",
    "to_seconds",
    "use_signatures",
]

P = ParamSpec("P")
R = TypeVar("R")
#: Where a plain ``def`` task runs: a thread of the worker (the default), or a child process.
Executor = Literal["thread", "process"]
_EXECUTORS = ("thread", "process")
#: Builds workflow signatures for ``Task.s``/``Task.si``; the workflows layer plugs itself in here
#: (``aqueue._layers``), so that tasks, which the core uses, import no layer.
SignatureFactory = Callable[..., "Signature"]
_signatures: dict[str, SignatureFactory] = {}


def use_signatures(*, mutable: SignatureFactory, immutable: SignatureFactory) -> None:
    """Set what ``Task.s`` (``mutable``) and ``Task.si`` (``immutable``) build."""
    _signatures.update(s=mutable, si=immutable)


def _signature(kind: str) -> SignatureFactory:
    factory = _signatures.get(kind)
    if factory is None:
        raise ConfigurationError("workflow signatures need aqueue.workflows, which is not plugged in")
    return factory


class Retry(ArqRetry):
    """Raise from a task to run it again, after ``defer`` seconds or after the task's backoff.

    A subclass of arq's ``Retry``: plain arq workers understand it too.
    """

    def __init__(self, defer: Seconds | None = None) -> None:
        super().__init__(defer=defer)
        self.explicit_defer = defer is not None


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential retry delays with jitter and a cap: ``min(max_s, base_s * factor ** (try - 1))``.

    With ``jitter`` the delay is drawn uniformly from its upper half, so retries of many jobs spread
    out but never come back at once.
    """

    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 300.0
    jitter: bool = True

    def delay_s(self, job_try: int) -> float:
        """Return the delay in seconds before the retry that follows try ``job_try`` (1-based)."""
        delay = min(self.max_s, self.base_s * self.factor ** max(job_try - 1, 0))
        return random.uniform(delay / 2, delay) if self.jitter else delay


def _backoff(value: Backoff | bool | float | None) -> Backoff | None:
    if value is None or value is False:
        return None
    if value is True:
        return Backoff()
    if isinstance(value, Backoff):
        return value
    return Backoff(base_s=float(value))


def _threaded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a plain ``def`` so the worker runs it in a thread, off the event loop."""

    @functools.wraps(func)
    async def run_in_thread(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(func, ctx, *args, **kwargs)

    return run_in_thread


def _needs_process_pool(task: Task[Any, Any]) -> Callable[..., Any]:
    """The arq coroutine of a process task: only aqueue's Worker runs it (through its process pool)."""

    async def run_in_process(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise ConfigurationError(f"task {task.name!r} runs in a process pool, which only aqueue's Worker has")

    return run_in_process


def _check_executor(func: Callable[..., Any], executor: str | None) -> None:
    if executor is None:
        return
    if executor not in _EXECUTORS:
        raise ConfigurationError(f"executor must be 'thread' or 'process', got {executor!r}")
    if inspect.iscoroutinefunction(func):
        raise ConfigurationError(
            f"@task(executor={executor!r}) is for plain def functions; {func.__qualname__} is an async def, "
            "which runs on the worker's event loop"
        )


@dataclass(frozen=True, eq=False)
class Task(Generic[P, R]):
    """A function registered as a task, with its options. Call it to run it directly.

    ``name`` addresses the task from producers; ``timeout_s``, ``max_tries``, ``keep_result_s`` and
    ``keep_result_forever`` override the worker's defaults; ``retry_on`` lists exception types retried
    automatically with ``retry_backoff``; ``queue`` is where ``.enqueue`` sends jobs by default;
    ``executor`` is ``"process"`` for a plain ``def`` run in the worker's process pool (None or
    ``"thread"``: a thread); ``priority`` (0-9) is the default priority of its jobs
    (``enqueue(task, ...)`` with the Task object, ``enqueue_many`` and ``.enqueue`` use it);
    ``limits`` are its flow limits across all workers (``docs/limits.md``).
    """

    func: Callable[..., Any]
    name: str
    queue: str | None = None
    timeout_s: float | None = None
    max_tries: int | None = None
    keep_result_s: float | None = None
    keep_result_forever: bool | None = None
    retry_backoff: Backoff | None = None
    retry_on: tuple[type[BaseException], ...] = field(default=())
    executor: Executor | None = None
    priority: int = 0
    limits: Limits | None = None

    def __call__(self, ctx: Any, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Run the task function directly (no queue)."""
        return self.func(ctx, *args, **kwargs)

    @property
    def is_async(self) -> bool:
        """Return whether the function is a coroutine function (else it runs in a thread)."""
        return inspect.iscoroutinefunction(self.func)

    def to_arq(self) -> Function:
        """Return the arq ``Function`` a worker registers for this task."""
        if self.executor == "process":
            coroutine = _needs_process_pool(self)
        else:
            coroutine = self.func if self.is_async else _threaded(self.func)
        return arq_func(
            coroutine,
            name=self.name,
            keep_result=self.keep_result_s,
            timeout=self.timeout_s,
            keep_result_forever=self.keep_result_forever,
            max_tries=self.max_tries,
        )

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """Return a workflow signature of this task whose first argument is the parent's result."""
        return _signature("s")(self.name, *args, **kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """Return an immutable signature: it ignores the parent's result."""
        return _signature("si")(self.name, *args, **kwargs)

    @overload
    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _job_id: str, **kwargs: Any) -> Job[R] | None: ...
    @overload
    async def enqueue(self, *args: Any, _job_id: None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _queue_name: str | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _defer_until: datetime | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _defer_by: Seconds | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _expires: Seconds | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _job_try: int | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _min_replicas: int | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _unique: str | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _unique_for: Seconds | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _debounce: Seconds | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _priority: int | None, **kwargs: Any) -> Job[R]: ...
    @overload
    async def enqueue(self, *args: Any, _group: str | None, **kwargs: Any) -> Job[R]: ...

    async def enqueue(self, *args: Any, **kwargs: Any) -> Job[Any] | None:
        """Enqueue this task on the default client (``AQUEUE_REDIS_URL``).

        Returns the job, or None if ``_job_id`` names a job that exists (only then).
        """
        kwargs.setdefault("_queue_name", self.queue)
        if self.priority:
            kwargs.setdefault("_priority", self.priority)
        job: Job[Any] | None = await (await default_client()).enqueue(self.name, *args, **kwargs)
        return job


TaskLike = Task[Any, Any] | Function | Callable[..., Any]


class TaskDecorator(Protocol):
    """What ``@task(name=…, …)`` returns: the decorator, typed like ``@task``."""

    @overload
    def __call__(self, func: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]], /) -> Task[P, R]: ...
    @overload
    def __call__(self, func: Callable[Concatenate[Any, P], R], /) -> Task[P, R]: ...


# An ``async def`` gives the value it returns when awaited: the overload for coroutine functions comes
# first, and a plain ``def`` (run in a thread) gives what it returns.
@overload
def task(func: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]], /) -> Task[P, R]: ...
@overload
def task(func: Callable[Concatenate[Any, P], R], /) -> Task[P, R]: ...
@overload
def task(
    *,
    name: str | None = None,
    queue: str | None = None,
    timeout: Seconds | None = None,
    max_tries: int | None = None,
    keep_result: Seconds | None = None,
    keep_result_forever: bool | None = None,
    retry_backoff: Backoff | bool | float | None = None,
    retry_on: Sequence[type[BaseException]] | type[BaseException] = (),
    executor: Executor | None = None,
    priority: int = 0,
    concurrency: int | None = None,
    rate_limit: RateLike | None = None,
    group_concurrency: int | None = None,
    group_rate_limit: RateLike | None = None,
) -> TaskDecorator: ...


def task(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    queue: str | None = None,
    timeout: Seconds | None = None,
    max_tries: int | None = None,
    keep_result: Seconds | None = None,
    keep_result_forever: bool | None = None,
    retry_backoff: Backoff | bool | float | None = None,
    retry_on: Sequence[type[BaseException]] | type[BaseException] = (),
    executor: Executor | None = None,
    priority: int = 0,
    concurrency: int | None = None,
    rate_limit: RateLike | None = None,
    group_concurrency: int | None = None,
    group_rate_limit: RateLike | None = None,
) -> Task[Any, Any] | TaskDecorator:
    """Register a function as a task: ``@task`` or ``@task(name="math.add", timeout=30, max_tries=5)``.

    The function takes ``ctx`` first (a dict with ``job_id``, ``job_try``, ``redis``, …). ``async def``
    runs on the worker's event loop; a plain ``def`` runs in a thread pool, or with
    ``executor="process"`` in the worker's pool of child processes (CPU-bound work; see
    ``docs/tasks.md``). For type checkers the task keeps the parameters after ``ctx`` and the result
    type, of either kind (``Task[P, R]``).
    ``priority`` (0-9) is the default priority of its jobs. Flow limits hold across all workers
    (``docs/limits.md``): ``concurrency`` (at most that many attempts running at once),
    ``rate_limit`` (``"100/s"``, ``"30/m"``, ``"5/10s"`` or ``(count, seconds)``: at most that many
    starts in any such window), and ``group_concurrency``/``group_rate_limit``, the same per
    ``_group`` of a job.
    """
    if max_tries is not None and max_tries < 1:
        raise ConfigurationError(f"max_tries must be at least 1, got {max_tries}")
    check_priority(priority, "priority")
    limits = parse_limits(concurrency, rate_limit, group_concurrency, group_rate_limit)
    retry_types = (retry_on,) if isinstance(retry_on, type) else tuple(retry_on)

    def wrap(f: Callable[..., Any]) -> Task[Any, Any]:
        if not callable(f):
            raise ConfigurationError(f"@task needs a function, got {f!r}")
        _check_executor(f, executor)
        return Task(
            func=f,
            name=name or f.__name__,
            queue=queue,
            timeout_s=to_seconds(timeout),
            max_tries=max_tries,
            keep_result_s=to_seconds(keep_result),
            keep_result_forever=keep_result_forever,
            retry_backoff=_backoff(retry_backoff),
            retry_on=retry_types,
            executor=executor,
            priority=priority,
            limits=limits,
        )

    return wrap(func) if func is not None else wrap


def as_task(obj: TaskLike | str) -> Task[Any, Any]:
    """Normalise a Task, an arq ``Function``, a plain function or an import path into a Task.

    A plain function given by import path is named by that path, as in arq (``"asyncio.sleep"``); a
    Task or arq ``Function`` found there keeps its own name.
    """
    if isinstance(obj, str):
        found = import_string(obj)
        return as_task(found) if isinstance(found, Task | Function) else task(name=obj)(found)
    if isinstance(obj, Task):
        return obj
    if isinstance(obj, Function):
        return task_from_arq(obj)
    if callable(obj):
        return task(obj)
    raise ConfigurationError(f"worker functions must be tasks, functions or import paths, not {obj!r}")


def task_from_arq(job: Function | ArqCronJob) -> Task[..., Any]:
    """Return the Task of an arq ``Function`` or ``CronJob``: its coroutine, name and job options."""
    return Task(
        func=job.coroutine,
        name=job.name,
        timeout_s=job.timeout_s,
        max_tries=job.max_tries,
        keep_result_s=job.keep_result_s,
        keep_result_forever=job.keep_result_forever,
    )
