from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from aqueue.errors import ConfigurationError, CronExpressionError
from aqueue.scheduler import CronJob, cron, slot_id
from aqueue.scheduler._definition import check_unique_names

START = datetime(2026, 1, 1, tzinfo=UTC)


def runs(expr: str, n: int = 3, after: datetime = START, tz: str | None = None) -> list[str]:
    return [r.isoformat() for r in cron(expr, "t", tz=tz).next_runs(after, n)]


def test_leap_day_skips_to_leap_years() -> None:
    assert runs("0 0 29 2 *") == [
        "2028-02-29T00:00:00+00:00",
        "2032-02-29T00:00:00+00:00",
        "2036-02-29T00:00:00+00:00",
    ]


@pytest.mark.parametrize("alias", ["@yearly", "@annually"])
def test_yearly(alias: str) -> None:
    assert runs(alias) == [
        "2027-01-01T00:00:00+00:00",
        "2028-01-01T00:00:00+00:00",
        "2029-01-01T00:00:00+00:00",
    ]


def test_other_aliases() -> None:
    assert runs("@monthly", 2) == ["2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"]
    assert runs("@weekly", 1) == ["2026-01-04T00:00:00+00:00"]  # a Sunday
    assert runs("@daily", 1) == ["2026-01-02T00:00:00+00:00"]
    assert runs("@hourly", 1) == ["2026-01-01T01:00:00+00:00"]


def test_last_day_of_month() -> None:
    assert runs("0 0 L * *", 3) == [
        "2026-01-31T00:00:00+00:00",
        "2026-02-28T00:00:00+00:00",
        "2026-03-31T00:00:00+00:00",
    ]
    assert runs("0 0 L 2 *", 3, datetime(2027, 6, 1, tzinfo=UTC))[1] == "2029-02-28T00:00:00+00:00"
    assert runs("0 0 L 2 *", 1, datetime(2027, 6, 1, tzinfo=UTC)) == ["2028-02-29T00:00:00+00:00"]


def test_second_monday() -> None:
    assert runs("0 9 * * mon#2") == [
        "2026-01-12T09:00:00+00:00",
        "2026-02-09T09:00:00+00:00",
        "2026-03-09T09:00:00+00:00",
    ]


def test_year_field_is_seventh_after_seconds() -> None:
    assert runs("0 0 1 1 * 0 2030") == ["2030-01-01T00:00:00+00:00"]  # then the schedule ends
    job = cron("0 0 1 1 * 0 2030", "t")
    assert job.next_run(datetime(2030, 1, 1, tzinfo=UTC)) is None


def test_year_far_away_is_found() -> None:
    # croniter gives up after 50 years by default; aqueue raises the bound for year fields.
    assert runs("0 0 1 1 * 0 2099", 1) == ["2099-01-01T00:00:00+00:00"]


def test_seconds_field_is_sixth_and_last() -> None:
    assert runs("* * * * * */20", 4) == [
        "2026-01-01T00:00:20+00:00",
        "2026-01-01T00:00:40+00:00",
        "2026-01-01T00:01:00+00:00",
        "2026-01-01T00:01:20+00:00",
    ]
    assert runs("30 9 * * * 15", 1) == ["2026-01-01T09:30:15+00:00"]


def test_weekday_names_and_month_ranges() -> None:
    # 2026-01-01 is a Thursday
    assert runs("0 9 * * mon-fri", 3) == [
        "2026-01-01T09:00:00+00:00",
        "2026-01-02T09:00:00+00:00",
        "2026-01-05T09:00:00+00:00",
    ]
    assert runs("0 0 1 jan-mar *", 3) == [
        "2026-02-01T00:00:00+00:00",
        "2026-03-01T00:00:00+00:00",
        "2027-01-01T00:00:00+00:00",
    ]
    assert runs("0 0 1 JAN-MAR *", 1) == ["2026-02-01T00:00:00+00:00"]


def test_day_of_month_or_day_of_week() -> None:
    # Both restricted: a day matches if either matches (Vixie cron, croniter default).
    assert runs("0 0 13 * fri", 3) == [
        "2026-01-02T00:00:00+00:00",
        "2026-01-09T00:00:00+00:00",
        "2026-01-13T00:00:00+00:00",
    ]


def test_next_runs_are_strictly_after_and_in_zone() -> None:
    job = cron("0 9 * * *", "t", tz="Asia/Kolkata")
    after = datetime(2026, 1, 1, 9, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
    first = job.next_run(after)
    assert first is not None
    assert first.isoformat() == "2026-01-02T09:00:00+05:30"
    assert first.tzinfo == ZoneInfo("Asia/Kolkata")
    assert job.next_runs(after, 0) == []


def test_naive_after_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cron("* * * * *", "t").next_run(datetime(2026, 1, 1))


def test_slots_between_is_start_exclusive_end_inclusive() -> None:
    job = cron("*/10 * * * *", "t")
    slots = job.slots_between(START, START + timedelta(minutes=30))
    assert [s.minute for s in slots] == [10, 20, 30]
    assert job.slots_between(START, START + timedelta(minutes=30), limit=2) == slots[:2]


def test_slot_id_is_utc_epoch_milliseconds() -> None:
    moment = datetime(2026, 3, 29, 3, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert slot_id(moment) == 1774746000000
    assert slot_id(moment.astimezone(UTC)) == slot_id(moment)
    assert slot_id(datetime(1970, 1, 1, 0, 0, 0, 1500, tzinfo=UTC)) == 1
    with pytest.raises(ValueError):
        slot_id(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("", "expected 5, 6 or 7 fields, got 0"),
        ("* * *", "expected 5, 6 or 7 fields, got 3"),
        ("* * * * * * * *", "got 8"),
        ("61 * * * *", "bad minute field '61' (out of range)"),
        ("0 24 * * *", "bad hour field '24'"),
        ("* * * * foo", "bad day-of-week field 'foo'"),
        ("* * * * 8", "bad day-of-week field '8'"),
        ("*/0 * * * *", "bad minute field '*/0'"),
        ("0 0 30 2 *", "can never occur"),
        ("0 0 * * mon#6", "bad day-of-week field 'mon#6'"),
        ("0 0 1 1 * 0 2200", "bad year field '2200'"),
        ("* * * * * 60", "bad second field '60'"),
        ("H * * * *", "hashed or random"),
        ("R * * * *", "hashed or random"),
        ("@every", "expected 5, 6 or 7 fields"),
    ],
)
def test_bad_expressions_quote_themselves(expr: str, fragment: str) -> None:
    with pytest.raises(CronExpressionError) as info:
        cron(expr, "t")
    message = str(info.value)
    assert repr(" ".join(expr.split())) in message
    assert fragment in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


def test_expression_must_be_a_string() -> None:
    with pytest.raises(CronExpressionError):
        cron(5, "t")  # type: ignore[arg-type]


def test_bad_zone_is_quoted() -> None:
    with pytest.raises(ConfigurationError, match="'Mars/Olympus_Mons'"):
        cron("* * * * *", "t", tz="Mars/Olympus_Mons")
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        cron("* * * * *", "t", tz="../etc/passwd")


def test_zone_forms() -> None:
    assert cron("* * * * *", "t").tz is UTC
    assert cron("* * * * *", "t", tz="Europe/Paris").tz_name == "Europe/Paris"
    assert cron("* * * * *", "t", tz=ZoneInfo("Asia/Tokyo")).tz_name == "Asia/Tokyo"
    fixed = timezone(timedelta(hours=3))
    assert cron("0 9 * * *", "t", tz=fixed).next_runs(START, 1)[0].isoformat() == "2026-01-01T09:00:00+03:00"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"missed": "sometimes"}, "missed='sometimes' is not one of skip, latest, all"),
        ({"overlap": "queue"}, "overlap='queue' is not one of allow, skip, buffer_one"),
        ({"catchup_window": timedelta(0)}, "catchup_window"),
        ({"catchup_window": 60}, "catchup_window"),
        ({"timeout": -1}, "timeout"),
        ({"keep_result": timedelta(seconds=-5)}, "keep_result"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_options(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        cron("* * * * *", "t", **kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)


async def report() -> None:
    """A plain coroutine function used as a task."""


class FakeTask:
    name = "billing.invoice"

    async def __call__(self) -> None:
        pass


def test_task_forms() -> None:
    by_name = cron("* * * * *", "send_report")
    assert (by_name.name, by_name.task, by_name.func) == ("send_report", "send_report", None)
    by_func = cron("* * * * *", report)
    assert (by_func.name, by_func.task, by_func.func) == ("report", "report", report)
    task = FakeTask()
    by_task = cron("* * * * *", task, name="nightly-invoice")
    assert (by_task.name, by_task.task, by_task.func) == ("nightly-invoice", "billing.invoice", task)
    for bad in (42, "", lambda: None):
        with pytest.raises(ConfigurationError):
            cron("* * * * *", bad)


def test_job_is_frozen_and_keeps_options() -> None:
    job = cron(
        "  0   9 * * mon-fri ",
        "t",
        args=[1, 2],
        kwargs={"a": 1},
        missed="all",
        catchup_window=timedelta(minutes=5),
        overlap="buffer_one",
        queue="low",
        timeout=30,
        keep_result=timedelta(hours=1),
        job_id_prefix="cron:t",
    )
    assert isinstance(job, CronJob)
    assert job.schedule == "0 9 * * mon-fri"
    assert job.args == (1, 2)
    assert dict(job.kwargs) == {"a": 1}
    assert (job.missed, job.overlap, job.queue, job.timeout) == ("all", "buffer_one", "low", 30)
    with pytest.raises(AttributeError):
        job.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        job.kwargs["b"] = 2  # type: ignore[index]
    assert job == cron(
        "0 9 * * mon-fri",
        "t",
        args=(1, 2),
        kwargs={"a": 1},
        missed="all",
        catchup_window=timedelta(minutes=5),
        overlap="buffer_one",
        queue="low",
        timeout=30,
        keep_result=timedelta(hours=1),
        job_id_prefix="cron:t",
    )


def test_check_unique_names() -> None:
    check_unique_names([cron("* * * * *", "a"), cron("* * * * *", "a", name="b")])
    with pytest.raises(ConfigurationError, match="'a'"):
        check_unique_names([cron("* * * * *", "a"), cron("0 * * * *", "a")])
