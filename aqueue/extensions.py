"""The one seam through which a layer adds to a worker: :class:`WorkerExtension`.

Workflows and cron are extensions; so are metrics, events and flow-control rules. An extension may:

- register **tasks** of its own (:meth:`WorkerExtension.tasks`: cron's scheduled functions);
- own **envelope fields** (:attr:`WorkerExtension.envelope_keys`: ``wf``/``m`` for workflows, ``cron``):
  the core carries them and never reads them;
- add **Lua** to the worker's claim and finish scripts (:meth:`WorkerExtension.lua`): a library, and
  functions that run *inside* the core scripts at fixed hook points, atomically with them
  (see :class:`LuaHooks`);
- add **ctx entries** per job (:meth:`WorkerExtension.job_context`) and **wrap the call** of a task
  (:meth:`WorkerExtension.wrap_call`: map/starmap);
- **record** some outcomes itself, atomically with its own state (:meth:`WorkerExtension.handles`,
  :meth:`WorkerExtension.seal`, :meth:`WorkerExtension.finish`: workflow continuations);
- **observe** jobs as they start and end (:meth:`WorkerExtension.on_start` or
  :meth:`WorkerExtension.on_start_at`, :meth:`WorkerExtension.on_end` or
  :meth:`WorkerExtension.on_end_batch` synchronously, :meth:`WorkerExtension.on_outcome` awaited:
  registries, metrics, events);
- run **services** in the worker's task group (:meth:`WorkerExtension.services`: the cron scheduler),
  and do something once the worker has connected, before it takes its first job
  (:meth:`WorkerExtension.startup`: cron's ``run_at_startup`` runs, which a burst worker must see).

Every hook has a no-op default; the worker calls only the hooks an extension overrides, so an unused
hook costs nothing on the hot path. Hooks run in the order the extensions are listed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from aqueue._envelope import JobEnvelope
    from aqueue._redis.keys import Keys
    from aqueue._redis.scripts import ScriptRegistry
    from aqueue._worker.queue_ops import QueueOps
    from aqueue._worker.types import ClaimedJob, Outcome
    from aqueue.tasks import Task

__all__ = [
    "Call",
    "ClientHooksFactory",
    "ExtensionFactory",
    "LuaHooks",
    "Service",
    "WorkerContext",
    "WorkerExtension",
    "client_hooks",
    "default_extensions",
    "overrides",
    "register_client_hooks",
    "register_default",
]

logger = logging.getLogger("aqueue.worker")

#: How a task is invoked: ``call(ctx, *args, **kwargs)``; :meth:`WorkerExtension.wrap_call` wraps it.
Call = Callable[..., Awaitable[Any]]
#: A service: a coroutine run beside the worker's loops until the worker stops (then cancelled).
Service = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LuaHooks:
    """Lua an extension adds to the worker's core scripts.

    ``library`` is Lua source of ``local function`` definitions; it is placed after the core library
    (``lib.lua``) in the claim and finish scripts. Each hook names one of its functions, called at:

    - ``on_dead(prefix, id, max_deliveries, now, worker)``: in the claim script, after a job was
      dead-lettered (delivered ``max_deliveries`` times without an outcome) by ``worker``'s claim.
    - ``on_finish(prefix, queue, id, kind)``: in the core finish script, after an outcome was recorded
      (``kind``: ``ok``, ``err`` or ``retry``; outcomes an extension records itself do not pass here).
      A batch's outcomes are recorded first, then the hook runs once per recorded one, in order.
    - ``on_finish_batch(prefix, queue, note, out)``: in the core finish script, once per batch, after
      the ``on_finish`` hooks: ``note`` is what :meth:`WorkerExtension.finish_note` made of the batch
      (``''``: none), ``out`` the per-outcome replies (1 recorded, 0 fenced).
    - ``on_enqueue(prefix, queue, id, payload, now)``: in every script that writes a new job, after
      it was written (not for an id that existed): the enqueue scripts (plain and ``_unique``), a
      workflow continuation (released nodes, error callbacks), cron runs, dead letters put back;
      ``on_enqueue_batch(prefix, queue, now)`` at the end of the call (``queue``: the call's queue,
      ``''`` where its jobs may have gone to several; the hook flushes every queue's jobs).
      These run in a client's scripts (:func:`client_hooks`) and a worker's alike.
    - ``may_hand_off(prefix, queue, id, payload)`` → boolean: in the enqueue scripts (and the workflow
      layer's direct claim), before a due job is handed straight to an idle worker; false (from any
      extension) queues it instead, so that the claim's admission rules see it.
    - ``admitting(prefix)`` → boolean: once per claim script call: whether any admission rule is in
      force (false: ``waiting``, ``admit``, ``on_claimed`` and ``next_check`` are not called at all,
      so they cost nothing per job while unused).
    - ``holding(prefix)`` → boolean: once per finish, renew or release call: whether any attempt
      holds something an extension must let go (false: ``on_attempt_end`` and ``on_renew`` are not
      called).
    - ``waiting(prefix, queue, now, room)`` → list of job ids: in the claim script, before a queue's
      own jobs: jobs the extension held back earlier that may run now (at most ``room``), claimed first.
    - ``admit(prefix, queue, id, now)`` → boolean: in the claim script, per candidate job before it is
      claimed. False (from any extension) leaves the job unclaimed and takes it out of its queue: the
      extension that said no keeps it and gives it back through ``waiting``, and says when to look
      again through ``next_check``.
    - ``on_claimed(prefix, queue, id, tries, lease_end, now)``: in the claim script, after a job passed
      ``admit`` and was claimed.
    - ``next_check(prefix, queue)`` → ms or nil: in the claim script, folded into the reply's earliest
      due time (the worker sleeps until then at most).
    - ``on_renew(prefix, queue, id, lease_end)``: in the renew script, per lease extended.
    - ``on_attempt_end(prefix, queue, id)``: when a claimed attempt ends: per recorded outcome in the
      core finish script and the workflow layer's, per job handed back by a retiring worker.
    - ``withdraw(prefix, queue, id)`` → boolean: in the abort script, for a job found in none of the
      queue's sets: an extension that holds it back lets it go and says true (the job is aborted).
    - ``purge(prefix, queue, batch)`` → list of job ids: in the purge script, once per call: the
      extension lets go of up to ``batch`` jobs of the queue it holds back (the core deletes them).
    - ``on_wait(prefix, queue, id, task, why, limit, now)``: called by an admission rule (the limits
      layer's Lua, through the forward-declared dispatcher) when it starts holding job ``id`` back:
      ``why`` is its reason (``concurrency``, ``rate``), ``limit`` the limit in words
      (``concurrency=5``, ``group_rate_limit=10/1000ms group=tenant-1``). Once per hold: a job given
      back and held again is no new call.

    A yes/no hook that no extension implements says yes; a list hook gives an empty list.
    """

    library: str = ""
    on_dead: str | None = None
    on_finish: str | None = None
    on_finish_batch: str | None = None
    on_enqueue: str | None = None
    on_enqueue_batch: str | None = None
    may_hand_off: str | None = None
    admitting: str | None = None
    holding: str | None = None
    waiting: str | None = None
    admit: str | None = None
    on_claimed: str | None = None
    next_check: str | None = None
    on_renew: str | None = None
    on_attempt_end: str | None = None
    withdraw: str | None = None
    purge: str | None = None
    on_wait: str | None = None


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What a worker hands its extensions when it starts (:meth:`WorkerExtension.bind`).

    ``redis`` is the worker's redis-py pool (status reads, MULTI, pub/sub); ``scripts`` its hot-path
    scripts, bound to the transport it chose (``scripts.get(Kind)``, see :mod:`aqueue._redis.scripts`).
    """

    redis: Redis
    scripts: ScriptRegistry
    keys: Keys
    queue: str
    worker_id: str
    lease_ms: int
    ops: QueueOps
    serializer: Callable[[Any], bytes]
    deserializer: Callable[[bytes], Any]
    #: start a job already claimed for this worker (e.g. a workflow step claimed at finish time)
    start: Callable[[ClaimedJob], None] = field(repr=False)
    #: how many jobs this worker is running now
    running_jobs: Callable[[], int] = field(repr=False, default=lambda: 0)


class WorkerExtension:
    """Base class of worker extensions; override the hooks you need (see the module docstring)."""

    #: Envelope keys this extension owns; the core passes them through untouched.
    envelope_keys: ClassVar[frozenset[str]] = frozenset()

    def tasks(self) -> Sequence[Task[Any, Any]]:
        """Return tasks to register on the worker besides its ``functions``."""
        return ()

    def lua(self) -> LuaHooks | None:
        """Return the Lua this extension adds to the worker's claim and finish scripts."""
        return None

    def bind(self, context: WorkerContext) -> None:
        """Receive the worker's connection and identity once it has connected (before any job runs)."""

    def services(self) -> Sequence[Service]:
        """Return coroutines to run in the worker's task group while it runs."""
        return ()

    async def startup(self) -> None:
        """Run once after :meth:`bind`, before the worker claims its first job (awaited: keep it short)."""

    def job_context(self, job: ClaimedJob, envelope: JobEnvelope) -> Mapping[str, Any] | None:
        """Return entries to add to this job's ``ctx`` (None: none)."""
        return None

    def wrap_call(self, call: Call, envelope: JobEnvelope) -> Call:
        """Return how to invoke the task for this job (``call`` unchanged unless this job is special)."""
        return call

    def handles(self, outcome: Outcome) -> bool:
        """Return whether this extension records ``outcome`` itself (with :meth:`seal` and :meth:`finish`)."""
        return False

    def seal(self, outcome: Outcome) -> Outcome:
        """Encode ``outcome`` for :meth:`finish`; return a failure instead if its value cannot be encoded."""
        return outcome

    async def finish(self, outcomes: list[Outcome], capacity: int) -> tuple[list[bool], list[ClaimedJob]]:
        """Record ``outcomes`` atomically with this extension's state.

        Return per outcome whether it was recorded (False: the claim was lost, fenced off), and any jobs
        claimed for this worker on the way (at most ``capacity``), which the worker starts.
        """
        raise NotImplementedError

    def finish_note(self, outcomes: Sequence[Outcome]) -> bytes:
        """Return text for this extension's ``on_finish_batch`` Lua hook about a core finish batch.

        Called once per batch the core finish script records (not for outcomes an extension records),
        before the call; only the first extension that overrides it is asked.
        """
        return b""

    def on_start(self, job: ClaimedJob, envelope: JobEnvelope) -> None:
        """Observe a job's attempt starting (synchronous and cheap: it runs on the hot path)."""

    def on_start_at(self, job: ClaimedJob, envelope: JobEnvelope, at_ms: int) -> None:
        """Observe a job's attempt starting at ``at_ms`` (epoch ms: the start its outcome records).

        The worker calls this hook (never :meth:`on_start` directly) for each extension that
        overrides either; this default calls :meth:`on_start`. Override it to save a clock read.
        """
        self.on_start(job, envelope)

    def on_progress(
        self, job: ClaimedJob, envelope: JobEnvelope, value: Any, message: str, at_ms: int
    ) -> None:
        """Observe a running job's progress report (``ctx["progress"]``) as it is written (synchronous)."""

    def on_end(self, outcome: Outcome) -> None:
        """Observe an outcome after it was recorded, synchronously (cheap: counters; before on_outcome).

        A job no extension observes with :meth:`on_outcome` costs the worker no coroutine: prefer
        this hook for what needs no I/O.
        """

    def on_end_batch(self, outcomes: Sequence[Outcome]) -> None:
        """Observe the outcomes one call recorded, in order, synchronously, as soon as it returns.

        The worker calls this hook (never :meth:`on_end` directly) for each extension that overrides
        either; this default passes each outcome to :meth:`on_end`. Override it to handle a batch at
        once (one clock read, names looked up once): it runs on the hot path, before the jobs'
        :meth:`on_outcome`.
        """
        for outcome in outcomes:
            try:
                self.on_end(outcome)
            except Exception:
                logger.exception("extension %r failed to observe an outcome", self)

    async def on_outcome(self, outcome: Outcome) -> None:
        """Observe an outcome after it was recorded (not atomically with it)."""


def overrides(extension: WorkerExtension, hook: str) -> bool:
    """Return whether ``extension`` overrides ``hook`` (the worker skips hooks left at their default)."""
    return getattr(type(extension), hook) is not getattr(WorkerExtension, hook)


#: Builds a default extension from the worker's options (None: not wanted for these options).
ExtensionFactory = Callable[[Mapping[str, Any]], "WorkerExtension | None"]
_DEFAULTS: list[ExtensionFactory] = []
#: Builds the Lua a layer adds to a client's scripts (enqueue) from the client's options.
ClientHooksFactory = Callable[[Mapping[str, Any]], "LuaHooks | None"]
_CLIENT_HOOKS: list[ClientHooksFactory] = []


def register_default(factory: ExtensionFactory) -> None:
    """Turn an extension on for every worker (the layers aqueue ships register in ``aqueue._layers``)."""
    _DEFAULTS.append(factory)


def default_extensions(options: Mapping[str, Any]) -> list[WorkerExtension]:
    """Return the default extensions for a worker built with ``options`` (e.g. ``cron_jobs``)."""
    built = (factory(options) for factory in _DEFAULTS)
    return [extension for extension in built if extension is not None]


def register_client_hooks(factory: ClientHooksFactory) -> None:
    """Add a layer's Lua to every client's enqueue script (the events layer's ``enqueued`` events)."""
    _CLIENT_HOOKS.append(factory)


def client_hooks(options: Mapping[str, Any]) -> list[LuaHooks]:
    """Return the Lua hooks for a client built with ``options`` (e.g. ``events``)."""
    built = (factory(options) for factory in _CLIENT_HOOKS)
    return [hooks for hooks in built if hooks is not None]
