"""Job lifecycle events: what they are (:class:`Event`) and how to read them (:func:`read_events`).

Each queue has a capped stream, ``{prefix}events:{queue_key}`` (``Keys.events``), trimmed to about
``events_maxlen`` entries (10,000 by default). The events layer (:mod:`aqueue.contrib.events`) writes
it, inside the Lua of the transition where it can, so an event is there exactly when its transition
happened: ``enqueued`` in the enqueue script, ``succeeded``/``failed``/``aborted``/``retrying`` in the
finish script, ``dead`` in the claim script; ``started`` and ``progress`` from the worker, batched.
One stream entry holds a batch (several jobs enqueued or finished in one call): the reader expands
it. Entries are one of two forms:

- written by Lua: ``aq.k`` (the kind), ``aq.t`` (ms), then one field per job: its id → its task name
  (``dead``: ``task<TAB>try``);
- written with a note: ``aq.e``, a JSON list of events (``k`` kind, ``id``, ``f`` task, ``try``,
  ``t`` ms, ``d`` duration s, ``x`` error type, ``p`` progress value, ``msg``, ``w`` pickup wait ms
  on ``started``), and for a finish
  batch ``aq.m``, one ``1``/``0`` per event at the end of the list: whether the finish script
  recorded that outcome (a fenced outcome is no event).

``Event.position`` (``<entry id>:<index>``) orders events and is where a reader resumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

from aqueue._backoff import Backoff
from aqueue._clock import datetime_to_ms
from aqueue._redis.connection import text
from aqueue._redis.errors import REDIS_ERRORS
from aqueue._redis.keys import Keys
from aqueue.errors import ConfigurationError

__all__ = ["DEFAULT_EVENTS_MAXLEN", "Event", "EventKind", "events_cap", "expand_entry", "read_events"]

#: How many entries each queue's event stream keeps, about (Redis trims whole nodes: ``MAXLEN ~``).
DEFAULT_EVENTS_MAXLEN = 10_000
#: Stream entries per XREAD/XRANGE call.
PAGE = 500
#: While following every queue, look for new queues' streams this often (seconds).
RESCAN_S = 5.0

logger = logging.getLogger("aqueue.events")


class EventKind(StrEnum):
    """What happened to a job."""

    ENQUEUED = "enqueued"
    STARTED = "started"
    PROGRESS = "progress"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    DEAD = "dead"


#: The kinds that end a job (``retrying`` ends an attempt, not the job).
ENDS = frozenset({EventKind.SUCCEEDED, EventKind.FAILED, EventKind.ABORTED, EventKind.DEAD})


@dataclass(frozen=True, slots=True)
class Event:
    """One job lifecycle event.

    ``task`` is empty where the writer could not tell (a job enqueued with a non-JSON serializer);
    ``job_try`` is None for ``enqueued``; ``duration`` (seconds, start of the attempt to its end) and
    ``error`` (the exception's type name) are set on the ends of attempts; ``progress`` and
    ``message`` on ``progress`` events; ``pickup`` (seconds from when the job was due, enqueued or
    its deferred or retry time, to this start) on ``started`` events.
    """

    kind: EventKind
    job_id: str
    task: str
    queue: str
    job_try: int | None
    time: datetime
    position: str
    duration: float | None = None
    error: str | None = None
    progress: Any = None
    message: str = ""
    pickup: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the event as ``aqueue events --json`` prints it (ISO-8601 UTC time)."""
        return {
            "kind": self.kind.value,
            "job_id": self.job_id,
            "task": self.task,
            "queue": self.queue,
            "try": self.job_try,
            "time": self.time.isoformat(),
            "duration": self.duration,
            "error": self.error,
            "progress": self.progress,
            "message": self.message,
            "pickup": self.pickup,
            "position": self.position,
        }


def events_cap(maxlen: int) -> int:
    """Return ``maxlen`` checked as an events stream cap (a positive int)."""
    if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
        raise ConfigurationError(f"events_maxlen must be a positive integer, got {maxlen!r}")
    return maxlen


def expand_entry(queue: str, entry_id: str, fields: Mapping[bytes, bytes]) -> list[Event]:
    """Return the events one stream entry holds, in order (see the module docstring for its forms)."""
    kind = fields.get(b"aq.k")
    if kind is not None:
        return _expand_lua(queue, entry_id, EventKind(text(kind)), fields)
    note = fields.get(b"aq.e")
    if note is None:
        return []
    items, mask = orjson.loads(note), fields.get(b"aq.m") or b""
    masked_from, events = len(items) - len(mask), []
    for index, item in enumerate(items):
        if index >= masked_from and mask[index - masked_from] != ord("1"):
            continue
        events.append(_from_note(queue, f"{entry_id}:{index}", item))
    return events


def _expand_lua(queue: str, entry_id: str, kind: EventKind, fields: Mapping[bytes, bytes]) -> list[Event]:
    at = _at(int(fields[b"aq.t"]))
    events = []
    for index, (key, value) in enumerate(fields.items()):
        if key in (b"aq.k", b"aq.t"):
            continue
        task, _, tries = text(value).partition("\t")
        job_try = int(tries) if tries else None
        events.append(Event(kind, text(key), task, queue, job_try, at, f"{entry_id}:{index - 2}"))
    return events


def _from_note(queue: str, position: str, item: dict[str, Any]) -> Event:
    wait = item.get("w")
    return Event(
        EventKind(item["k"]),
        item["id"],
        item.get("f", ""),
        queue,
        item.get("try"),
        _at(item["t"]),
        position,
        item.get("d"),
        item.get("x"),
        item.get("p"),
        item.get("msg", ""),
        None if wait is None else wait / 1000,
    )


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _order(position: str) -> tuple[int, int, int]:
    entry, _, index = position.rpartition(":")
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq), int(index)


def _before(entry_id: str) -> str:
    """Return the stream id just before ``entry_id`` (XREAD reads after the id it is given)."""
    ms, _, seq = entry_id.partition("-")
    if int(seq) > 0:
        return f"{ms}-{int(seq) - 1}"
    return f"{int(ms) - 1}-18446744073709551615" if int(ms) > 0 else "0-0"


async def _streams(redis: Any, keys: Keys) -> list[str]:
    """Return the keys of every queue's event stream."""
    found = [text(k) async for k in redis.scan_iter(match=keys.events("*"), count=1000, _type="stream")]
    return sorted(found)


def _queue_of(keys: Keys, stream: str) -> str:
    return stream[len(keys.events("")) :]


@dataclass(frozen=True, slots=True)
class _From:
    """Where reading starts: entry ``entry`` (inclusive; '' for "from now") and its index ``skip`` on."""

    entry: str
    skip: int

    @classmethod
    def of(cls, since: datetime | str | None, default: str) -> _From:
        """Return the start for ``since`` (None: ``default``, "0-0" for everything or "" for now)."""
        if since is None:
            return cls(default, 0)
        if isinstance(since, datetime):
            return cls(f"{datetime_to_ms(since)}-0", 0)
        entry, sep, index = since.rpartition(":")
        if not sep or "-" not in entry or not index.isdigit():
            raise ConfigurationError(
                f"since must be a datetime or an event position 'ms-seq:index', not {since!r}"
            )
        return cls(entry, int(index) + 1)  # a position: resume after it

    def keeps(self, entry_id: str, event: Event) -> bool:
        """Return whether ``event`` (of entry ``entry_id``) is at or after the start."""
        return entry_id != self.entry or _order(event.position)[2] >= self.skip


async def read_events(
    redis: Any,
    keys: Keys,
    queues: Sequence[str] | None,
    *,
    follow: bool = True,
    since: datetime | str | None = None,
    reverse: bool = False,
    limit: int | None = None,
) -> AsyncIterator[Event]:
    """Yield the events of ``queues`` (queue keys; None: every queue that has events).

    ``follow``: wait for new events forever, from now (or ``since``), resuming after a dropped
    connection from the last entry read, so no event is lost or repeated. Otherwise: the events kept
    (from ``since``), oldest first or newest first with ``reverse``, at most ``limit``, then stop.
    ``since`` is a time or an event's ``position`` (then the events after it).
    """
    if limit is not None and limit < 1:
        raise ConfigurationError(f"limit must be a positive integer, got {limit!r}")
    if follow and reverse:
        raise ConfigurationError("reverse=True needs follow=False (a live feed comes oldest first)")
    start = _From.of(since, "" if follow else "0-0")
    if follow:
        events = _Follower(redis, keys, queues, start).events()
        count = 0
        async for event in events:
            yield event
            count += 1
            if limit is not None and count >= limit:
                return
        return
    streams = [keys.events(q) for q in queues] if queues is not None else await _streams(redis, keys)
    found: list[Event] = []
    for stream in streams:
        found += await _read_stream(
            redis, _queue_of(keys, stream), stream, start, reverse=reverse, limit=limit
        )
    found.sort(key=lambda e: _order(e.position), reverse=reverse)
    for event in found[:limit] if limit is not None else found:
        yield event


async def _read_stream(
    redis: Any, queue: str, stream: str, start: _From, *, reverse: bool, limit: int | None
) -> list[Event]:
    """Return one stream's events from ``start`` on (newest first if ``reverse``), at most ``limit``."""
    events: list[Event] = []
    low, high = start.entry, "+"
    while limit is None or len(events) < limit:
        if reverse:
            entries = await redis.xrevrange(stream, max=high, min=low, count=PAGE)
        else:
            entries = await redis.xrange(stream, min=low, max=high, count=PAGE)
        for raw_id, fields in entries:
            entry_id = text(raw_id)
            expanded = [e for e in expand_entry(queue, entry_id, fields) if start.keeps(entry_id, e)]
            events += reversed(expanded) if reverse else expanded
        if len(entries) < PAGE:
            break
        last = "(" + text(entries[-1][0])
        low, high = (low, last) if reverse else (last, high)
    return events


class _Follower:
    """Follows streams with XREAD, remembering the last entry of each it has yielded all events of."""

    def __init__(self, redis: Any, keys: Keys, queues: Sequence[str] | None, start: _From) -> None:
        self.redis, self.keys, self.start = redis, keys, start
        self.fixed = [keys.events(q) for q in queues] if queues is not None else None
        self.positions: dict[str, str] = {}  # stream -> the last entry read (XREAD's exclusive start)
        self.backoff = Backoff("reading events", logger)
        self.rescan_at, self.scanned = 0.0, False

    async def events(self) -> AsyncIterator[Event]:
        """Yield events as they come, forever; Redis failures are retried with backoff."""
        while True:
            try:
                replies = await self._read()
                self.backoff.succeeded()
            except REDIS_ERRORS as e:
                await asyncio.sleep(self.backoff.failed(e))
                continue
            for stream, entries in replies or ():
                name = text(stream)
                for raw_id, fields in entries:
                    entry_id = text(raw_id)
                    for event in expand_entry(_queue_of(self.keys, name), entry_id, fields):
                        if self.start.keeps(entry_id, event):
                            yield event
                    self.positions[name] = entry_id

    async def _read(self) -> Any:
        await self._add_streams()
        if not self.positions:
            await asyncio.sleep(1.0)
            return None
        return await self.redis.xread(self.positions, count=PAGE, block=1000)

    async def _add_streams(self) -> None:
        """Start following the queues asked for, or (every RESCAN_S) every queue's stream found."""
        if self.fixed is not None:
            for stream in self.fixed:
                if stream not in self.positions:
                    self.positions[stream] = await self._resume(stream, new=False)
            return
        now = asyncio.get_running_loop().time()
        if now < self.rescan_at:
            return
        for stream in await _streams(self.redis, self.keys):
            if stream not in self.positions:  # a stream found after the first scan is new: all of it
                self.positions[stream] = await self._resume(stream, new=self.scanned)
        self.scanned, self.rescan_at = True, now + RESCAN_S

    async def _resume(self, stream: str, *, new: bool) -> str:
        """Return where following ``stream`` starts: before ``start``, at its start if ``new``, else now."""
        if self.start.entry:
            return _before(self.start.entry)
        if new:
            return "0-0"
        newest = await self.redis.xrevrange(stream, count=1)
        return text(newest[0][0]) if newest else "0-0"
