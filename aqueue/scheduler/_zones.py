"""Time zones: resolving a zone, and mapping wall-clock times to instants across DST.

Rules (see also ``docs/scheduler.md``):

* **Spring forward (gap).** A wall time that does not exist in the zone runs
  once, at the first valid instant after the gap, i.e. the transition instant
  (03:00 CEST for a 02:30 slot in Paris). Several skipped wall times map to that
  same instant and so collapse into one run, together with a regular slot that
  already falls on it.
* **Fall back (repeat).** A wall time that occurs twice runs once, at its first
  occurrence (``fold=0``). The second pass through the repeated hour runs
  nothing.

Both rules make the wall-to-instant map non-decreasing, which the search in
:mod:`aqueue.scheduler._schedule` relies on. Zones must follow PEP 495
(:class:`zoneinfo.ZoneInfo`, :class:`datetime.timezone`); transition instants are
found by bisection on whole seconds (zoneinfo stores them in whole seconds).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aqueue.errors import ConfigurationError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def resolve_zone(tz: str | tzinfo | None) -> tzinfo:
    """Return the zone for an IANA name, a tzinfo, or None (UTC).

    Raises:
        ConfigurationError: the name is not a known zone; the message quotes it.

    """
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str):
        raise ConfigurationError(f"tz must be a zone name or a tzinfo, not {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"unknown time zone {tz!r}") from None


def zone_name(zone: tzinfo) -> str:
    """Return a short display name for a zone (the IANA key when there is one)."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    return str(zone)


def slot_id(moment: datetime) -> int:
    """Return the identifier of a slot: its UTC epoch time in whole milliseconds."""
    if moment.tzinfo is None:
        raise ValueError("slot_id needs a timezone-aware datetime")
    return (moment - _EPOCH) // _MILLISECOND


def _offset_at(seconds: int, zone: tzinfo) -> timedelta | None:
    """Return the zone's UTC offset at an epoch second."""
    return datetime.fromtimestamp(seconds, zone).utcoffset()


def _first_change(low: int, high: int, zone: tzinfo) -> int:
    """Return the first epoch second in ``(low, high]`` whose offset differs from ``low``'s."""
    before = _offset_at(low, zone)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(middle, zone) == before:
            low = middle
        else:
            high = middle
    return high


def wall_to_instant(wall: datetime, zone: tzinfo) -> datetime:
    """Map a naive wall time to the instant it runs at, in ``zone``, per the DST rules."""
    first = wall.replace(tzinfo=zone, fold=0)
    found = first.astimezone(UTC).astimezone(zone)
    if found.replace(tzinfo=None) == wall:
        return found  # exists; fold=0 is the first of two occurrences
    # In a gap: fold=0 reads it with the offset before, fold=1 with the offset after.
    late = first.timestamp()
    early = wall.replace(tzinfo=zone, fold=1).timestamp()
    change = _first_change(math.floor(min(early, late)), math.ceil(max(early, late)), zone)
    return datetime.fromtimestamp(change, zone)


def search_start(after: datetime, zone: tzinfo) -> datetime:
    """Return the naive wall time from which to search for runs strictly after ``after``.

    Normally that is ``after``'s own wall time. If ``after`` is in the second pass
    through a repeated hour, every wall time up to the end of the repeat ran (or
    would have run) in the first pass, so the search starts at the end of it.
    """
    local = after.astimezone(zone)
    wall = local.replace(tzinfo=None)
    if not local.fold:
        return wall
    first_offset = local.replace(fold=0).utcoffset()
    second_offset = local.utcoffset()
    if first_offset is None or second_offset is None or first_offset <= second_offset:
        return wall
    now = after.timestamp()
    change = _first_change(
        math.floor(now - (first_offset - second_offset).total_seconds()), math.ceil(now), zone
    )
    repeat_end = datetime.fromtimestamp(change, UTC).replace(tzinfo=None) + first_offset
    return repeat_end - timedelta(microseconds=1)
