"""Cron expressions: validation with one-line errors, and matching wall-clock times.

Expressions are read by croniter with its defaults:

* 5 fields: ``minute hour day-of-month month day-of-week``;
* 6 fields: the same plus **seconds, placed last** (``*/5 * * * * *`` is every
  5 seconds; croniter's ``second_at_beginning`` option is not used);
* 7 fields: the same plus seconds, then **year** (1970-2099), e.g.
  ``0 0 1 1 * 0 2030``;
* names (``jan``-``dec``, ``sun``-``sat``), ranges, steps, lists, ``L``
  (last day of month), ``mon#2`` (second Monday), ``L5`` (last Friday),
  ``15W`` (nearest weekday), and the aliases ``@yearly @annually @monthly
  @weekly @daily @midnight @hourly``.

When both day-of-month and day-of-week are restricted, a day matches if
*either* matches (Vixie cron's rule, croniter's default).

Hashed (``H``) and random (``R``) fields are refused: every worker must compute
the same slots. Ranges with equal bounds (``9-9``, ``jan-jan``) are refused too:
croniter 7 reads them as the *whole* field (``0 9-9 * * *`` would run hourly).
Impossible day/month pairs such as ``0 0 30 2 *`` are refused (croniter's
``strict`` check).

This module knows nothing of time zones: :meth:`CronExpression.next_wall` works
on naive wall-clock times; :mod:`aqueue.scheduler._zones` maps them to instants.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime

from croniter import CroniterBadDateError, CroniterError, croniter

from aqueue.errors import CronExpressionError

_FIELD_NAMES = {
    5: ("minute", "hour", "day-of-month", "month", "day-of-week"),
    6: ("minute", "hour", "day-of-month", "month", "day-of-week", "second"),
    7: ("minute", "hour", "day-of-month", "month", "day-of-week", "second", "year"),
}
_ALIASES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_HASHED = re.compile(r"^[hr](\(\d+-\d+\))?(/\d+)?$", re.IGNORECASE)
_RANGE = re.compile(r"^(\w+)-(\w+)(/\d+)?$", re.ASCII)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES = {name: number for number, name in enumerate(_MONTHS, 1)} | {d: n for n, d in enumerate(_DAYS)}
# croniter gives up after this many years without a match; the year field reaches 2099.
_MAX_YEARS = 130


def _fields(text: str) -> list[str]:
    """Split an expression into its fields, refusing a wrong field count."""
    if text.lower() in _ALIASES:
        return ["*"] * 5
    fields = text.split()
    if len(fields) not in _FIELD_NAMES:
        raise CronExpressionError(f"cron expression {text!r}: expected 5, 6 or 7 fields, got {len(fields)}")
    return fields


def _refuse_hashed(text: str, fields: list[str]) -> None:
    """Refuse croniter's ``H`` and ``R`` fields, which are not the same on every worker."""
    for index, field in enumerate(fields):
        if any(_HASHED.match(part) for part in field.split(",")):
            name = _FIELD_NAMES[len(fields)][index]
            raise CronExpressionError(
                f"cron expression {text!r}: {name} field {field!r} is hashed or random (H/R), not supported"
            )


def _token_value(token: str) -> int | str:
    """Return a range bound as a number (names converted), or as written if it is neither."""
    token = token.lower()
    return int(token) if token.isdigit() else _NAMES.get(token, token)


def _refuse_equal_ranges(text: str, fields: list[str]) -> None:
    """Refuse ``a-a`` ranges, which croniter 7 widens to the whole field (``9-9`` = ``*``)."""
    for index, field in enumerate(fields):
        for part in field.split(","):
            bounds = _RANGE.match(part)
            if bounds and _token_value(bounds[1]) == _token_value(bounds[2]):
                name = _FIELD_NAMES[len(fields)][index]
                raise CronExpressionError(
                    f"cron expression {text!r}: {name} range {part!r} has equal bounds, which croniter "
                    f"reads as the whole field; write {bounds[1]!r} or '*'"
                )


def _reason(error: Exception) -> str:
    """Reduce a croniter error message to a short reason."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    message = lines[-1] if lines else type(error).__name__
    message = re.sub(r"^\[[^\]]*\]\s*(is not acceptable[.,]?\s*)?", "", message)
    return message.rstrip(".") or "unreadable value"


def _blame(text: str, fields: list[str], error: Exception) -> str:
    """Name the first field that croniter refuses on its own, with croniter's reason."""
    for index, field in enumerate(fields):
        probe = ["*"] * len(fields)
        probe[index] = field
        try:
            croniter.expand(" ".join(probe), strict=True)
        except (CroniterError, ValueError) as field_error:
            name = _FIELD_NAMES[len(fields)][index]
            return f"cron expression {text!r}: bad {name} field {field!r} ({_reason(field_error)})"
    return f"cron expression {text!r}: {_reason(error)}"


def parse_expression(text: object) -> CronExpression:
    """Validate ``text`` and return it as a :class:`CronExpression`.

    Raises:
        CronExpressionError: the message quotes the expression and says, in one
            line, what is wrong with it.

    """
    if not isinstance(text, str):
        raise CronExpressionError(f"cron expression must be a string, not {text!r}")
    text = " ".join(text.split())
    fields = _fields(text)
    _refuse_hashed(text, fields)
    _refuse_equal_ranges(text, fields)
    try:
        croniter.expand(text, strict=True)
    except (CroniterError, ValueError) as error:
        raise CronExpressionError(_blame(text, fields, error)) from None
    return CronExpression(text, len(fields))


class CronExpression:
    """A validated cron expression that yields the wall-clock times it matches.

    One croniter instance is kept and reused (building one costs ~180 µs, a
    search ~40 µs); a lock makes the instance safe to share between threads.
    """

    __slots__ = ("_iter", "_lock", "field_count", "text")

    def __init__(self, text: str, field_count: int) -> None:
        self.text = text
        self.field_count = field_count
        years = _MAX_YEARS if field_count == 7 else None
        self._iter = croniter(text, datetime(2000, 1, 1), max_years_between_matches=years)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CronExpression({self.text!r})"

    def next_wall(self, after: datetime) -> datetime | None:
        """Return the first naive wall time strictly after naive ``after`` that matches, or None."""
        with self._lock:
            try:
                result: datetime = self._iter.get_next(datetime, start_time=after)
            except CroniterBadDateError:
                return None
        return result
