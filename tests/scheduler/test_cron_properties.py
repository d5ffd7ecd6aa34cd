"""Property tests: next-run maths against an independent brute-force computation.

The brute force walks UTC minute by minute, converts each instant to wall time with
zoneinfo, matches the fields with the simple matcher below (not croniter), and
applies the DST rules in instant terms:

* an instant runs if its wall time matches and it is the wall time's first
  occurrence (``fold == 0``);
* an instant right after a gap (the wall clock jumped forward) also runs if any
  skipped wall time matches.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import event, given, reject, settings
from hypothesis import strategies as st

from aqueue.errors import CronExpressionError
from aqueue.scheduler import cron

ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "America/Santiago",
    "Europe/London",
    "Pacific/Chatham",
    "America/St_Johns",
    "Europe/Dublin",
    "UTC",
]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
MINUTE = timedelta(minutes=1)
WINDOW = timedelta(days=2)

# ---------------------------------------------------------------- the matcher


@dataclass(frozen=True)
class Spec:
    lo: int
    hi: int
    names: tuple[str, ...] = ()
    name_base: int = 0


SPECS = [Spec(0, 59), Spec(0, 23), Spec(1, 31), Spec(1, 12, tuple(MONTHS), 1), Spec(0, 6, tuple(DAYS), 0)]


def value(text: str, spec: Spec) -> int:
    if text in spec.names:
        return spec.names.index(text) + spec.name_base
    return int(text)


def parse_field(text: str, spec: Spec) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            first, last = spec.lo, spec.hi
        elif "-" in body:
            first, last = (value(v, spec) for v in body.split("-"))
        else:
            first = value(body, spec)
            last = spec.hi if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(v % 7 if spec is SPECS[4] else v for v in values)


def matcher(expr: str) -> Callable[[datetime], bool]:
    texts = expr.split()
    minute, hour, dom, month, dow = (parse_field(t, s) for t, s in zip(texts, SPECS, strict=True))
    # croniter reads a full-range day field as "*" only when the other day field contains "*".
    dom_any = texts[2] == "*" or (len(dom) == 31 and "*" in texts[4])
    dow_any = texts[4] == "*" or (len(dow) == 7 and "*" in texts[2])
    either = not dom_any and not dow_any

    def day_ok(wall: datetime) -> bool:
        in_dom, in_dow = wall.day in dom, wall.isoweekday() % 7 in dow
        return (in_dom or in_dow) if either else (in_dom and in_dow)

    return lambda wall: wall.minute in minute and wall.hour in hour and wall.month in month and day_ok(wall)


def brute_runs(expr: str, zone: ZoneInfo, after: datetime, end: datetime) -> list[datetime]:
    matches = matcher(expr)
    moment = after.replace(second=0, microsecond=0) + MINUTE
    previous_wall = (moment - MINUTE).astimezone(zone).replace(tzinfo=None)
    runs = []
    while moment <= end:
        local = moment.astimezone(zone)
        wall = local.replace(tzinfo=None)
        run = local.fold == 0 and matches(wall)
        skipped = previous_wall + MINUTE
        while not run and skipped < wall:
            run = matches(skipped)
            skipped += MINUTE
        if run:
            runs.append(local)
        previous_wall = wall
        moment += MINUTE
    return runs


# ---------------------------------------------------------------- transitions


@cache
def transitions(name: str) -> list[datetime]:
    zone = ZoneInfo(name)
    found = []
    day = datetime(2024, 1, 1, 12, tzinfo=UTC)
    while day.year < 2031:
        nxt = day + timedelta(days=1)
        if day.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            low, high = int(day.timestamp()), int(nxt.timestamp())
            while high - low > 1:
                mid = (low + high) // 2
                same = datetime.fromtimestamp(mid, zone).utcoffset() == day.astimezone(zone).utcoffset()
                low, high = (mid, high) if same else (low, mid)
            found.append(datetime.fromtimestamp(high, UTC))
        day = nxt
    return found or [datetime(2026, 6, 1, tzinfo=UTC)]


@st.composite
def starts(draw: st.DrawFn, name: str) -> datetime:
    points = transitions(name)
    point = points[draw(st.integers(0, len(points) - 1))]
    seconds = draw(st.integers(-36 * 3600, 12 * 3600))
    return point + timedelta(seconds=seconds, microseconds=draw(st.sampled_from([0, 1, 500_000])))


# ---------------------------------------------------------------- expressions


def numbers(spec: Spec, biased: tuple[int, int] | None) -> st.SearchStrategy[int]:
    plain = st.integers(spec.lo, spec.hi)
    return plain | st.integers(*biased) if biased else plain


@st.composite
def field(draw: st.DrawFn, spec: Spec, biased: tuple[int, int] | None = None, top: int | None = None) -> str:
    def token(v: int) -> str:
        if spec.names and v - spec.name_base < len(spec.names) and draw(st.booleans()):
            return spec.names[v - spec.name_base]
        return str(v)

    def part() -> str:
        kind = draw(st.sampled_from(["one", "range", "range-step", "star-step", "from-step"]))
        a = draw(numbers(spec, biased))
        step = draw(st.integers(1, max(1, (spec.hi - spec.lo) // 2)))
        if kind == "one":
            return token(a)
        if kind == "star-step":
            return f"*/{step}"
        if kind == "from-step" and spec is not SPECS[4]:
            return f"{a}/{step}"
        upper = top if top is not None else spec.hi
        if a >= upper:
            return token(a)
        b = draw(st.integers(a + 1, upper))  # croniter reads "a-a" as "*"; aqueue refuses it
        text = f"{token(a)}-{token(b) if b <= spec.hi else b}"
        return f"{text}/{step}" if kind == "range-step" else text

    parts = [part() for _ in range(draw(st.integers(1, 3)))]
    return ",".join(parts)


@st.composite
def expressions(draw: st.DrawFn) -> str:
    minute = draw(st.just("*") | field(SPECS[0]))
    hour = draw(st.just("*") | field(SPECS[1], biased=(0, 4)) | field(SPECS[1], biased=(21, 23)))
    dom = draw(st.just("*") | st.just("*") | field(SPECS[2]))
    month = draw(st.just("*") | st.just("*") | field(SPECS[3]))
    dow = draw(st.just("*") | st.just("*") | field(SPECS[4], top=7))
    return f"{minute} {hour} {dom} {month} {dow}"


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, datetime]:
    name = draw(st.sampled_from(ZONES))
    return draw(expressions()), name, draw(starts(name))


# ---------------------------------------------------------------- properties


@settings(max_examples=int(os.environ.get("AQUEUE_CRON_EXAMPLES", "250")), deadline=None)
@given(cases())
def test_runs_match_brute_force(case: tuple[str, str, datetime]) -> None:
    expr, name, after = case
    zone = ZoneInfo(name)
    try:
        job = cron(expr, "t", tz=zone)
    except CronExpressionError as e:  # the strategy can draw a date no month has ("* * 30 2 *")
        assert "can never occur" in str(e), e  # refused at definition, as it must be
        reject()
    end = after + WINDOW
    expected = brute_runs(expr, zone, after, end)
    got = job.slots_between(after, end)
    assert [r.isoformat() for r in got] == [r.isoformat() for r in expected], expr
    assert all(r.tzinfo is zone for r in got)
    event("some runs in window" if expected else "no runs in window")
    if any(r in transitions(name) for r in expected):
        event("a run at a transition instant")
    first = job.next_runs(after, 5)
    if len(expected) >= 5:
        assert first == expected[:5]
    assert all(b > a for a, b in zip([after, *first], first, strict=False))


def test_matcher_sanity() -> None:
    matches = matcher("*/15 9-17 * * mon-fri")
    assert matches(datetime(2026, 1, 5, 9, 45))
    assert not matches(datetime(2026, 1, 4, 9, 45))
    assert matcher("0 0 13 * fri")(datetime(2026, 1, 2))  # either day field
    assert not matcher("0 0 */2 * 0-6")(datetime(2026, 1, 2))  # full dow + "*" in dom: AND
    assert matcher("0 0 2 * 5-7")(datetime(2026, 1, 4))  # 7 is Sunday


def test_transitions_found() -> None:
    assert datetime(2026, 3, 29, 1, tzinfo=UTC) in transitions("Europe/Paris")
    assert len(transitions("Australia/Lord_Howe")) >= 12
    assert transitions("Asia/Kolkata") == [datetime(2026, 6, 1, tzinfo=UTC)]
