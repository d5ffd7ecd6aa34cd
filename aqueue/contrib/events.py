"""The events layer: writes job lifecycle events to each queue's capped stream (see :mod:`aqueue.events`).

On by default in every worker and client; ``events = False`` (a worker setting, or
``Client(events=False)``) turns it off there, ``events_maxlen`` caps each stream (approximately).
Where an event is written:

- ``enqueued``: in the script that wrote the job (``on_enqueue`` hooks), one stream entry per call
  and queue, for the jobs it wrote (not for an id that existed): the enqueue scripts (plain and
  ``_unique``; a debounce that updates a waiting job is no new job), a workflow continuation's
  released nodes and error callbacks, cron runs, dead letters put back (``aqueue dead requeue``).
  The task name is read from the head of a JSON payload (the default serializer); with another
  serializer it is left empty.
- ``succeeded``, ``failed``, ``aborted``, ``retrying``: in the core finish script
  (``on_finish_batch``), one entry per batch: the worker's note (task, try, duration, error type per
  outcome, after the ``started``/``progress`` events queued so far), with the script's mask of which
  outcomes it recorded; a fenced outcome is no event.
  A workflow node's outcome, recorded by the workflow layer's own script, is written just after it
  is recorded, by :class:`WorkflowEvents`.
- ``dead``: in the claim script (``on_dead``), as the job is dead-lettered.
- ``waiting``: in the claim script (``on_wait``, which the limits layer calls), as a flow limit
  starts holding a job back: its reason and the limit (once per hold).
- ``started``: by the worker as each attempt starts, batched (one entry per burst of starts);
  ``progress``: with each report of ``ctx["progress"]`` (through the same batches, so in order).

``started`` and ``progress`` are written by the worker, not inside a transition's script: they wait
up to 50 ms for the next finish batch, whose entry carries them ahead of its ends (so a short job's
events are in order, and cost no entry of their own), else are written as one entry. A worker that
dies at that moment may leave out its last ones; a finish batch retried through a lost reply may
repeat them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import orjson

from aqueue._backoff import Backoff
from aqueue._clock import now_ms
from aqueue._envelope import JobEnvelope
from aqueue._redis.errors import REDIS_ERRORS
from aqueue._redis.keys import Keys
from aqueue._worker.types import ClaimedJob, Outcome, OutcomeKind
from aqueue.errors import JobAborted
from aqueue.events import DEFAULT_EVENTS_MAXLEN, events_cap
from aqueue.extensions import LuaHooks, Service, WorkerContext, WorkerExtension

__all__ = ["EventsRecorder", "WorkflowEvents", "events_lua"]

logger = logging.getLogger("aqueue.events")

#: Started events kept while Redis is away, at most (the oldest are dropped past it).
MAX_PENDING = 10_000
#: How long queued events wait for a finish note to carry them before they are written on their own.
FLUSH_DELAY_S = 0.05
#: How long a stopping worker lets a write in flight finish (less than the worker's 1 s re-ask).
STOP_WAIT_S = 0.5

_LIBRARY = """
local AQ_EVENTS_CAP = '%d'
local aq_ev_jobs, aq_ev_queues = {}, {}
local function aq_ev_task(payload)
  return string.match(payload, '^{"t":[^,]*,"f":"([^"]*)"') or ''
end
local function aq_ev_enqueue(prefix, queue, id, payload, now)
  local jobs = aq_ev_jobs[queue]
  if not jobs then
    jobs = {}
    aq_ev_jobs[queue] = jobs
    aq_ev_queues[#aq_ev_queues + 1] = queue
  end
  jobs[#jobs + 1] = id
  jobs[#jobs + 1] = aq_ev_task(payload)
end
local function aq_ev_enqueued(prefix, queue, now)
  if #aq_ev_queues == 0 then return end
  local queues, all = aq_ev_queues, aq_ev_jobs
  aq_ev_jobs, aq_ev_queues = {}, {}
  for _, q in ipairs(queues) do
    local jobs, key = all[q], prefix .. 'events:' .. q
    for first = 1, #jobs, 1000 do
      redis.call('XADD', key, 'MAXLEN', '~', AQ_EVENTS_CAP, '*', 'aq.k', 'enqueued', 'aq.t', now,
        unpack(jobs, first, math.min(first + 999, #jobs)))
    end
  end
end
local function aq_ev_finished(prefix, queue, note, out)
  if note == '' then return end
  local n, all = #out, true
  for i = 1, n do if out[i] ~= 1 then all = false break end end
  local mask -- which outcomes were recorded ('1') or fenced ('0'); nearly always all of them
  if all then
    mask = string.rep('1', n)
  else
    mask = {}
    for i = 1, n do mask[i] = out[i] == 1 and '1' or '0' end
    mask = table.concat(mask)
  end
  redis.call('XADD', prefix .. 'events:' .. queue, 'MAXLEN', '~', AQ_EVENTS_CAP, '*',
    'aq.e', note, 'aq.m', mask)
end
local function aq_ev_wait(prefix, queue, id, task, why, limit, now)
  redis.call('XADD', prefix .. 'events:' .. queue, 'MAXLEN', '~', AQ_EVENTS_CAP, '*', 'aq.e',
    cjson.encode({{'waiting', id, task or '', 0, now, why, limit}}))
end
local function aq_ev_dead(prefix, id, max_deliveries, now)
  local dead = redis.call('HMGET', prefix .. 'dead:' .. id, 'queue', 'payload', 'tries')
  if not dead[1] then return end
  redis.call('XADD', prefix .. 'events:' .. dead[1], 'MAXLEN', '~', AQ_EVENTS_CAP, '*',
    'aq.k', 'dead', 'aq.t', now, id, aq_ev_task(dead[2] or '') .. '\\t' .. (dead[3] or ''))
end
"""


def events_lua(maxlen: int = DEFAULT_EVENTS_MAXLEN) -> LuaHooks:
    """Return the Lua that writes events inside the enqueue, claim and finish scripts."""
    return LuaHooks(
        library=_LIBRARY % events_cap(maxlen),
        on_dead="aq_ev_dead",
        on_finish_batch="aq_ev_finished",
        on_enqueue="aq_ev_enqueue",
        on_enqueue_batch="aq_ev_enqueued",
        on_wait="aq_ev_wait",
    )


def end_kind(outcome: Outcome) -> str:
    """Return the event kind of an attempt's end."""
    if outcome.kind is OutcomeKind.OK:
        return "succeeded"
    if outcome.kind is OutcomeKind.RETRY:
        return "retrying"
    return "aborted" if isinstance(outcome.value, JobAborted) else "failed"


def end_event(outcome: Outcome, at_ms: int) -> tuple[Any, ...]:
    """Return the note item of an attempt's end: kind, id, task, try, ms, duration s, error type."""
    job, value, started = outcome.job, outcome.value, outcome.started_ms
    kind = _END_KINDS[outcome.kind] if outcome.kind is not OutcomeKind.ERR else end_kind(outcome)
    duration = (at_ms - started if at_ms > started else 0) / 1000 if started else None
    error = type(value).__name__ if isinstance(value, BaseException) else None
    return (kind, job.job_id, outcome.task, job.job_try, at_ms, duration, error)


_END_KINDS = {OutcomeKind.OK: "succeeded", OutcomeKind.RETRY: "retrying"}


class _Writer:
    """Appends note entries to one queue's stream from the worker, batched, retried while Redis is away."""

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.redis: Any = None
        self.stream = ""
        self.pending: list[tuple[Any, ...]] = []
        self.wakeup = asyncio.Event()
        self.backoff = Backoff("writing events", logger)

    def add(self, item: tuple[Any, ...]) -> None:
        """Queue one event (a note row, see :mod:`aqueue.events`) for the next write."""
        pending = self.pending
        if len(pending) >= MAX_PENDING:
            del pending[: len(pending) - MAX_PENDING + 1]
        pending.append(item)
        if len(pending) == 1:  # the first since the last write: wake the writer
            self.wakeup.set()

    async def run(self) -> None:
        """Write what is queued as it comes, until cancelled.

        A write in flight when the worker stops is let finish (for up to STOP_WAIT_S), not cut off
        mid-command: a redis-py command cancelled half-way can leave its connection unaccounted for.
        By then the finisher has recorded every outcome, whose notes carried the events queued.
        """
        while True:
            await self.wakeup.wait()
            await asyncio.sleep(FLUSH_DELAY_S)  # a job ending meanwhile carries them in its note
            self.wakeup.clear()
            writing = asyncio.ensure_future(self.flush())
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                try:
                    await asyncio.wait({writing}, timeout=STOP_WAIT_S)
                finally:
                    writing.cancel()
                raise

    async def flush(self) -> None:
        """Write everything queued, retrying with backoff while Redis fails."""
        while self.pending:
            try:
                await self._write_once()
                self.backoff.succeeded()
            except REDIS_ERRORS as e:
                await asyncio.sleep(self.backoff.failed(e))

    async def _write_once(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            await self.redis.xadd(
                self.stream, {"aq.e": orjson.dumps(batch)}, maxlen=self.maxlen, approximate=True
            )
        except BaseException:
            self.pending[:0] = batch
            raise

    def take(self) -> list[tuple[Any, ...]]:
        """Return (and forget) what is queued: a finish note carries it."""
        batch, self.pending = self.pending, []
        return batch


class _Writing(WorkerExtension):
    """An extension that writes note entries to its worker's queue's stream, from a service."""

    def __init__(self, maxlen: int = DEFAULT_EVENTS_MAXLEN) -> None:
        self.maxlen = events_cap(maxlen)
        self.writer = _Writer(self.maxlen)
        self.keys = Keys()
        self.serializer: Any = None

    def bind(self, context: WorkerContext) -> None:
        """Write to the worker's queue's stream, on its redis-py pool."""
        self.writer.redis, self.writer.stream = context.redis, context.keys.events(context.queue)
        self.keys, self.serializer = context.keys, context.serializer

    def services(self) -> Sequence[Service]:
        """Return the writer of the events queued here."""
        return [self.writer.run]


class EventsRecorder(_Writing):
    """Writes a worker's job lifecycle events to its queue's stream (capped at about ``maxlen``)."""

    def __init__(self, maxlen: int = DEFAULT_EVENTS_MAXLEN) -> None:
        super().__init__(maxlen)
        self._last_batch, self._last_carried = "", list[tuple[Any, ...]]()

    def lua(self) -> LuaHooks:
        """Return the events Lua: ``enqueued``, the ends of attempts, ``dead``, ``waiting``."""
        return events_lua(self.maxlen)

    def finish_note(self, outcomes: Sequence[Outcome]) -> bytes:
        """Return the events queued so far, then the ends of these attempts (which the script masks).

        Queued ``started`` and ``progress`` events ride along, so a short job's events are in order.
        A batch retried after a Redis failure carries what its first try carried (it may not have run).
        """
        at_ms, carried = now_ms(), self.writer.take()
        first = outcomes[0].job.token + outcomes[0].job.job_id if outcomes else ""
        if first == self._last_batch:
            carried = self._last_carried + carried
        self._last_batch, self._last_carried = first, carried
        return orjson.dumps([*carried, *(end_event(o, at_ms) for o in outcomes)])

    def on_start(self, job: ClaimedJob, envelope: JobEnvelope) -> None:
        """Queue a ``started`` event, with the pickup wait (ms from when the job was due)."""
        self.on_start_at(job, envelope, now_ms())

    def on_start_at(self, job: ClaimedJob, envelope: JobEnvelope, at_ms: int) -> None:
        """Queue a ``started`` event at ``at_ms``, with the pickup wait (ms from when the job was due)."""
        enqueued = envelope.enqueue_ms
        due = enqueued if job.handoff or job.score < enqueued else job.score
        wait = at_ms - due if at_ms > due else 0
        self.writer.add(("started", job.job_id, envelope.name, job.job_try, at_ms, wait))

    def on_progress(
        self, job: ClaimedJob, envelope: JobEnvelope, value: Any, message: str, at_ms: int
    ) -> None:
        """Queue a ``progress`` event with each report."""
        self.writer.add(("progress", job.job_id, envelope.name, job.job_try, at_ms, _plain(value), message))


def _plain(value: Any) -> Any:
    """Return a progress value as JSON can hold it (its repr if it cannot)."""
    try:
        orjson.dumps(value)
    except TypeError:
        return repr(value)
    return value


class WorkflowEvents(_Writing):
    """Writes the ends of workflow nodes' attempts, which the workflow layer records with its own script."""

    envelope_keys = frozenset({"wf"})  # asked only about workflow nodes' jobs

    def on_end(self, outcome: Outcome) -> None:
        """Queue the end of a workflow node's attempt (after it was recorded)."""
        self.writer.add(end_event(outcome, now_ms()))
