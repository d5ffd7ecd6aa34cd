from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from aqueue.scheduler import cron
from aqueue.scheduler._cli import cron as cron_group
from aqueue.scheduler._formatting import JOB_HEADER, format_table, format_time, job_rows

NOW = "2027-01-01T12:00:00+00:00"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cron_group, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_next_prints_times_with_offsets() -> None:
    code, out, err = invoke("next", "0 9 * * mon", "--tz", "Europe/Paris", "-n", "2", "--now", NOW)
    assert (code, err) == (0, "")
    assert out.splitlines() == ["2027-01-04 09:00:00 +01:00 (Mon)", "2027-01-11 09:00:00 +01:00 (Mon)"]


def test_next_defaults_to_five_in_utc() -> None:
    code, out, _ = invoke("next", "@daily", "--now", NOW)
    assert code == 0
    assert out.splitlines()[0] == "2027-01-02 00:00:00 +00:00 (Sat)"
    assert len(out.splitlines()) == 5


def test_next_json() -> None:
    code, out, _ = invoke(
        "next", "30 2 * * *", "--tz", "Europe/Paris", "-n", "1", "--json", "--now", "2027-03-27T12:00:00Z"
    )
    assert code == 0
    assert json.loads(out) == {
        "expression": "30 2 * * *",
        "tz": "Europe/Paris",
        "next": ["2027-03-28T01:00:00+00:00"],  # 03:00 in Paris (tz says so); JSON times are UTC
    }


def test_next_current_time_works() -> None:
    code, out, _ = invoke("next", "* * * * *", "-n", "1")
    assert code == 0
    assert out.endswith(")\n")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["next", "61 * * * *"], "error: cron expression '61 * * * *': bad minute field '61'"),
        (["next", "* * *"], "error: cron expression '* * *': expected 5, 6 or 7 fields"),
        (["next", "* * * * *", "--tz", "Nowhere/Land"], "error: unknown time zone 'Nowhere/Land'"),
    ],
)
def test_next_errors_are_one_line_exit_1(args: list[str], fragment: str) -> None:
    code, out, err = invoke(*args)
    assert code == 1  # the CLI's convention: 1 for any failure, 2 only for what click cannot parse
    assert out == ""
    assert err.startswith(fragment)
    assert err.count("\n") == 1
    assert "Traceback" not in err


SETTINGS = """
from aqueue.scheduler import cron

async def cleanup(ctx):
    pass

class WorkerSettings:
    cron_jobs = [
        cron("0 9 * * mon-fri", "reports.daily", tz="Europe/Paris", name="daily-report"),
        cron("*/30 * * * *", cleanup, tz="Asia/Kolkata"),
    ]

class NotSettings:
    cron_jobs = ["0 9 * * *"]

dict_settings = {"cron_jobs": [cron("@hourly", "tick")]}
"""


@pytest.fixture
def settings_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "cron_cli_settings.py").write_text(textwrap.dedent(SETTINGS))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "cron_cli_settings"


def test_list_prints_table(settings_module: str) -> None:
    code, out, err = invoke("list", f"{settings_module}.WorkerSettings", "--next", "2", "--now", NOW)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SCHEDULE", "TZ", "TASK", "NEXT", "RUNS"]
    assert lines[1].split()[:3] == ["daily-report", "0", "9"]
    assert "reports.daily  2027-01-04 09:00:00 +01:00 (Mon)" in lines[1]
    assert lines[2].strip() == "2027-01-05 09:00:00 +01:00 (Tue)"
    assert "cleanup" in lines[3] and "Asia/Kolkata" in lines[3]
    assert lines[3].endswith("2027-01-01 18:00:00 +05:30 (Fri)")
    assert len(lines) == 5


def test_list_json_and_dict_settings(settings_module: str) -> None:
    code, out, _ = invoke("list", f"{settings_module}.dict_settings", "--json", "--next", "1", "--now", NOW)
    assert code == 0
    assert json.loads(out) == [
        {
            "name": "tick",
            "schedule": "@hourly",
            "tz": "UTC",
            "task": "tick",
            "next": ["2027-01-01T13:00:00+00:00"],
        }
    ]


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("nodots", "is not a dotted path like 'module.WorkerSettings'"),
        ("no_such_module_xyz.Settings", "no module named 'no_such_module_xyz'"),
        ("{mod}.Missing", "has no 'Missing'"),
        ("{mod}.NotSettings", "must be a list of CronJob"),
    ],
)
def test_list_bad_settings_path(settings_module: str, path: str, fragment: str) -> None:
    code, _, err = invoke("list", path.format(mod=settings_module))
    assert code == 1  # as `aqueue worker` with a bad settings path
    assert err.startswith("error: ") and fragment in err
    assert err.count("\n") == 1


def test_list_without_settings_reports_unreachable_redis_in_one_line() -> None:
    code, out, err = invoke("list", "--redis", "redis://127.0.0.1:1/0")
    assert (code, out) == (1, "")
    assert err.startswith("error: cannot reach Redis at redis://127.0.0.1:1/0")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_format_time_offsets() -> None:
    assert (
        format_time(datetime(2027, 1, 4, 9, tzinfo=ZoneInfo("Europe/Paris")))
        == "2027-01-04 09:00:00 +01:00 (Mon)"
    )
    assert format_time(datetime(2027, 1, 4, 9, tzinfo=ZoneInfo("America/St_Johns"))).endswith("-03:30 (Mon)")
    assert format_time(datetime(2027, 1, 4, 9, tzinfo=UTC)).endswith("+00:00 (Mon)")


def test_format_table_aligns_and_strips() -> None:
    assert format_table([["a", "bb"], ["ccc", ""]], header=["H1", "H2"]) == "H1   H2\na    bb\nccc"
    assert format_table([]) == ""


def test_job_rows() -> None:
    jobs = [cron("0 0 1 1 * 0 2030", "once"), cron("@daily", "d", tz="Asia/Tokyo")]
    rows = job_rows(jobs, datetime(2031, 1, 1, tzinfo=UTC), 2)
    assert rows[0] == ["once", "0 0 1 1 * 0 2030", "UTC", "once", "(no further runs)"]
    assert rows[1] == ["d", "@daily", "Asia/Tokyo", "d", "2031-01-02 00:00:00 +09:00 (Thu)"]
    assert rows[2] == ["", "", "", "", "2031-01-03 00:00:00 +09:00 (Fri)"]
    assert len(format_table(rows, JOB_HEADER).splitlines()) == 4
