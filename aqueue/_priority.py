"""Job priorities (0-9): checking them, and reading them back from where the Lua scripts keep them.

Priority 0 jobs live in the queue's sorted set exactly as arq puts them. A job of priority 1-9 waits
in ``{p}ready:{queue}`` while due (score ``(9 - p) * 2**49 + 2**48 ± seq``: highest first, FIFO
within a priority, a job whose claim lapsed first) or in ``{p}delayed:{queue}`` while deferred
(``run_at_ms * 16 + p``); once claimed it is in the queue at its lease end like any claimed job,
and ``{p}leased:{queue}`` (``check_ms * 16 + p``) keeps its priority for when its lease lapses or
it is retried (``aqueue/_redis/lua/priority_lib.lua``).
"""

from __future__ import annotations

from aqueue.errors import ConfigurationError

__all__ = ["MAX_PRIORITY", "READY_BAND", "check_priority", "ready_priority", "timed"]

MAX_PRIORITY = 9
#: A priority's band of FIFO numbers in the ready set (2**49).
READY_BAND = 1 << 49


def check_priority(value: object, what: str = "_priority") -> int:
    """Return ``value`` as a priority, or raise ConfigurationError (a whole number from 0 to 9)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PRIORITY:
        raise ConfigurationError(f"{what} must be a whole number from 0 to {MAX_PRIORITY}, got {value!r}")
    return value


def ready_priority(score: float) -> int:
    """Return the priority of a ready-set score."""
    return MAX_PRIORITY - int(score) // READY_BAND


def timed(score: float) -> tuple[int, int]:
    """Return (ms, priority) of a delayed- or leased-set score (``ms * 16 + priority``)."""
    ms, priority = divmod(int(score), 16)
    return ms, priority
