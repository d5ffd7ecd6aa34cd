"""The one clock of the queue: epoch milliseconds (what Redis scores and envelopes hold) and datetimes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

__all__ = ["datetime_to_ms", "iso_utc", "ms_to_datetime", "now_ms"]


def now_ms() -> int:
    """Return the wall clock in epoch milliseconds."""
    return int(time.time() * 1000)


def ms_to_datetime(ms: float | None) -> datetime | None:
    """Return an aware UTC datetime for epoch milliseconds (None stays None)."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso_utc(moment: datetime | None) -> str | None:
    """Return ``moment`` as ISO 8601 in UTC (``…+00:00``; a naive one is read as UTC), None for None."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def datetime_to_ms(moment: datetime) -> int:
    """Return epoch milliseconds for an aware datetime (a naive one is read as local time)."""
    return int(moment.timestamp() * 1000)


#: A duration as users give it: seconds, or a timedelta.
Seconds = float | int | timedelta


def to_seconds(value: Seconds | None) -> float | None:
    """Return ``value`` in seconds (None stays None)."""
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
