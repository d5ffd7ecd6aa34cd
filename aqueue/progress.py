"""Job progress: a task reports it (``await ctx["progress"](0.5, "halfway")``), producers read it.

Stored as ``{prefix}progress:{job_id}`` (``{"value", "message", "at_ms"}``, kept a day) and announced on
the pub/sub channel of the same name. Progress is advisory: it is not fenced like outcomes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aqueue._clock import now_ms
from aqueue._redis.errors import redis_errors
from aqueue._redis.keys import Keys

__all__ = ["Progress", "ProgressReporter", "progress_reporter", "read_progress"]

PROGRESS_TTL_MS = 86_400_000

ProgressReporter = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Progress:
    """The latest progress a job reported: any encodable value, a message, and when."""

    value: Any
    message: str
    at: datetime


#: Adds commands to the pipeline that records a report: ``also(pipe, value, message, at_ms)``.
AlsoRecord = Callable[[Any, Any, str, int], None]


def progress_reporter(
    redis: Any, keys: Keys, job_id: str, serializer: Callable[[Any], bytes], also: AlsoRecord | None = None
) -> ProgressReporter:
    """Return the ``ctx["progress"]`` callable of one job (``also``: more to write with each report)."""
    key = keys.progress(job_id)

    async def report(value: Any, message: str = "") -> None:
        """Record this job's progress (e.g. a fraction, a count, a dict) and announce it.

        Raises :class:`aqueue.errors.RedisFailure` if Redis fails or refuses it.
        """
        at_ms = now_ms()
        data = serializer({"value": value, "message": message, "at_ms": at_ms})
        with redis_errors(redis):
            async with redis.pipeline(transaction=False) as pipe:
                pipe.set(key, data, px=PROGRESS_TTL_MS)
                pipe.publish(key, data)
                if also is not None:
                    also(pipe, value, message, at_ms)
                await pipe.execute()

    return report


async def read_progress(
    redis: Any, keys: Keys, job_id: str, deserializer: Callable[[bytes], Any]
) -> Progress | None:
    """Return the latest progress of ``job_id``, or None if it never reported any."""
    raw = await redis.get(keys.progress(job_id))
    if raw is None:
        return None
    data = deserializer(raw)
    return Progress(
        data["value"], data.get("message", ""), datetime.fromtimestamp(data["at_ms"] / 1000, tz=UTC)
    )
