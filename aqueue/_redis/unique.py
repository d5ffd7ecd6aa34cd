"""Unique keys: the enqueue script that deduplicates, throttles and debounces, and its Lua library.

``enqueue_unique.lua`` runs only for an enqueue given ``_unique``, so a plain enqueue keeps its cost.
``unique_lib.lua`` releases a key when its job ends: the worker's dedup extension
(:mod:`aqueue._unique`) hooks it into the core finish and claim scripts, and the abort and dead-letter
requeue scripts call it. Key layout: see :mod:`aqueue._redis.keys` and the library's header.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from aqueue._redis.connection import text
from aqueue._redis.core import GROUP_LIB, PRIORITY_LIB, UNIQUE_LIB
from aqueue._redis.scripts import EXTENSIONS, Script

__all__ = ["UNIQUE_LIB", "EnqueueUnique", "EnqueueUniqueArgs", "Landed"]

#: Where an enqueue under a unique key landed: its new job, an id that exists (nothing written, as arq),
#: a job holding the key, a waiting holder that took its payload. The script replies with the index.
STATES = EXISTS, NEW, HELD, DEBOUNCED = ("exists", "new", "held", "debounced")


class EnqueueUniqueArgs(NamedTuple):
    """One job under ``unique_key``: ``unique_for_ms`` holds the key after it ended; ``debounce`` replaces."""

    prefix: str
    queue: str
    now_ms: int
    check_ids: bool
    job_id: str
    payload: bytes
    score: int
    ttl_ms: int
    unique_key: str
    unique_for_ms: int
    debounce: bool
    priority: int = 0
    group: str = ""

    def argv(self) -> list[Any]:
        """Return the ARGV."""
        out: list[Any] = list(self)
        out[3] = 1 if self.check_ids else 0
        out[10] = 1 if self.debounce else 0
        return out


class Landed(NamedTuple):
    """Where an enqueue under a unique key landed: its ``state`` and the job that stands for it."""

    state: str
    job_id: str
    queue: str

    @property
    def deduplicated(self) -> bool:
        """Return whether an existing job stands for the enqueue (held the key, or took the payload)."""
        return self.state in (HELD, DEBOUNCED)


class EnqueueUnique(Script[EnqueueUniqueArgs, Landed]):
    """Enqueue one job unless a job holds its unique key. Reply: the state and the job that stands for it."""

    name = "enqueue_unique"
    # EXTENSIONS: may_hand_off, on_enqueue and on_enqueue_batch for a new job
    libraries = (UNIQUE_LIB, PRIORITY_LIB, GROUP_LIB, EXTENSIONS)

    def parse(self, args: EnqueueUniqueArgs, reply: Any) -> Landed:
        """Return the reply's state, and the job that stands for the enqueue (this one's unless held)."""
        state = STATES[reply[0]]
        if len(reply) == 1:
            return Landed(state, args.job_id, args.queue)
        return Landed(state, text(reply[1]), text(reply[2]))
