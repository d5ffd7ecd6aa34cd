"""Job priorities (0-9) and groups: checking them, and reading priorities back from the Lua scripts' sets.

Priority 0 jobs live in the queue's sorted set exactly as arq puts them. A job of priority 1-9 waits
in ``{p}ready:{queue}`` while due (score ``(9 - p) * 2**49 + 2**48 ± seq``: highest first, FIFO
within a priority, a job whose claim lapsed first) or in ``{p}delayed:{queue}`` while deferred
(``run_at_ms * 16 + p``); once claimed it is in the queue at its lease end like any claimed job,
and ``{p}leased:{queue}`` (``check_ms * 16 + p``) keeps its priority for when its lease lapses or
it is retried (``aqueue/_redis/lua/priority_lib.lua``).
"""

from __future__ import annotations

from aqueue.errors import ConfigurationError

__all__ = [
    "MAX_GROUP",
    "MAX_PRIORITY",
    "READY_BAND",
    "check_group",
    "check_priority",
    "ready_priority",
    "timed",
]

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


#: The longest group name (``_group``) an enqueue takes.
MAX_GROUP = 200


def check_group(value: object, priority: int = 0) -> str:
    """Return ``value`` as a group name (``_group``), or raise ConfigurationError.

    A group is a non-empty string of at most :data:`MAX_GROUP` characters without line breaks; a job
    of a group takes no priority (groups are a priority-0 queue's round robin).
    """
    if not isinstance(value, str) or not value or len(value) > MAX_GROUP or "\n" in value or "\r" in value:
        raise ConfigurationError(
            f"_group must be a non-empty string of at most {MAX_GROUP} characters without line breaks, "
            f"got {value!r}"
        )
    if priority:
        raise ConfigurationError("_group takes no _priority (yet): a group's jobs are claimed in turn")
    return value
