"""A task's flow limits as declared on it (``@task(concurrency=…, rate_limit=…)``), checked and parsed.

The core only carries them on :class:`~aqueue.tasks.Task`; the limits layer (:mod:`aqueue.limits`)
enforces them in Redis.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from aqueue.errors import ConfigurationError

__all__ = ["Limits", "Rate", "RateLike", "parse_limits", "parse_rate"]

#: ``"100/s"``, ``"30/m"``, ``"1000/h"``, ``"5/10s"``; or ``(count, seconds)``.
RateLike = str | tuple[int, float]
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([smhd])\s*$")


class Rate(NamedTuple):
    """At most ``limit`` starts in any window of ``window_ms`` milliseconds."""

    limit: int
    window_ms: int

    def __str__(self) -> str:
        seconds = self.window_ms / 1000
        return f"{self.limit}/{seconds:g}s"


class Limits(NamedTuple):
    """A task's limits: across all workers (``concurrency``, ``rate``) and per group (``group_*``)."""

    concurrency: int = 0
    rate: Rate | None = None
    group_concurrency: int = 0
    group_rate: Rate | None = None

    def spec(self) -> str:
        """Return the limits as the limits layer stores them: six numbers, 0 for none."""
        rate, group_rate = self.rate or Rate(0, 0), self.group_rate or Rate(0, 0)
        numbers = (self.concurrency, *rate, self.group_concurrency, *group_rate)
        return " ".join(str(n) for n in numbers)


def parse_rate(value: RateLike, option: str) -> Rate:
    """Return ``value`` as a :class:`Rate`; raise ConfigurationError naming ``option`` if malformed."""
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ConfigurationError(f"{option} must be (count, seconds), got {value!r}")
        count, seconds = value
    elif isinstance(value, str):
        match = _RATE.match(value)
        if not match:
            raise ConfigurationError(
                f"{option} must look like '100/s', '30/m', '5/10s' or (count, seconds), got {value!r}"
            )
        count, scale = int(match[1]), float(match[2] or 1)
        seconds = scale * _UNITS[match[3]]
    else:
        raise ConfigurationError(f"{option} must be a string like '100/s' or (count, seconds), got {value!r}")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConfigurationError(f"{option} needs a count of at least 1, got {value!r}")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0.001:
        raise ConfigurationError(f"{option} needs a window of at least 1 ms, got {value!r}")
    return Rate(count, round(seconds * 1000))


def _concurrency(value: int | None, option: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{option} must be a whole number of at least 1, got {value!r}")
    return value


def parse_limits(
    concurrency: int | None,
    rate_limit: RateLike | None,
    group_concurrency: int | None,
    group_rate_limit: RateLike | None,
) -> Limits | None:
    """Return the limits ``@task`` was given (None: none)."""
    limits = Limits(
        _concurrency(concurrency, "concurrency"),
        parse_rate(rate_limit, "rate_limit") if rate_limit is not None else None,
        _concurrency(group_concurrency, "group_concurrency"),
        parse_rate(group_rate_limit, "group_rate_limit") if group_rate_limit is not None else None,
    )
    return limits if limits != Limits() else None
