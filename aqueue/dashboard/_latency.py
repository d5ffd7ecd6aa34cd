"""Pickup latency per queue for the overview: p50 and p95 over the last minutes, from the events.

Each ``started`` event carries its pickup wait (from when the job was due: enqueued, or its deferred
or retry time, to its start; the same measure as ``aqueue_pickup_latency_seconds``). The overview
reads the newest entries of each queue's event stream back to ``WINDOW_MS`` ago (at most
``MAX_ENTRIES`` per queue: a busy queue's figures then cover its most recent starts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aqueue._clock import now_ms
from aqueue._redis.connection import text
from aqueue._redis.errors import redis_errors
from aqueue.events import EventKind, expand_entry

if TYPE_CHECKING:
    from aqueue.client import Client

__all__ = ["MAX_ENTRIES", "WINDOW_MS", "Latency", "percentile", "pickup_latencies", "shown"]

#: How far back the pickup latency is measured (ms).
WINDOW_MS = 300_000
#: The most stream entries read per queue (each holds one or more events).
MAX_ENTRIES = 2_000


@dataclass(frozen=True, slots=True)
class Latency:
    """A queue's pickup latency (seconds) over the window, and how many starts it is from."""

    p50: float
    p95: float
    starts: int


def shown(seconds: float) -> str:
    """Return a latency as the overview shows it: ``3.2 ms`` below a second, else ``1.25 s``."""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def percentile(ordered: list[float], share: float) -> float:
    """Return the nearest-rank ``share`` (0-1) percentile of ``ordered`` (sorted, not empty)."""
    rank = max(1, -(-len(ordered) * share // 1))  # ceil(n * share), at least the first
    return ordered[int(rank) - 1]


async def pickup_latencies(client: Client, queues: list[str]) -> dict[str, Latency]:
    """Return the pickup latency of each of ``queues`` (queue keys) that had starts in the window."""
    since = f"{now_ms() - WINDOW_MS}-0"
    with redis_errors(client.address):
        async with client.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.xrevrange(client.keys.events(queue), max="+", min=since, count=MAX_ENTRIES)
            replies = await pipe.execute()
    found = {}
    for queue, entries in zip(queues, replies, strict=True):
        waits = sorted(
            event.pickup
            for raw_id, fields in entries
            for event in expand_entry(queue, text(raw_id), fields)
            if event.kind is EventKind.STARTED and event.pickup is not None
        )
        if waits:
            found[queue] = Latency(percentile(waits, 0.5), percentile(waits, 0.95), len(waits))
    return found
