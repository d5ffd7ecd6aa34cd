"""``aqueue cron list`` (live), ``pause``, ``resume`` and ``trigger`` against a real Redis."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from aqueue.scheduler import ManualClock, cron, list_jobs
from aqueue.scheduler._cli import cron as cron_group
from aqueue.scheduler._formatting import LIVE_HEADER


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cron_group, list(args))
    return result.exit_code, result.stdout, result.stderr


async def cli(*args: str) -> tuple[int, str, str]:
    """Run the command in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(invoke, *args)


@pytest.fixture
async def registered(make_runners) -> None:
    jobs = [
        cron("30 2 * * *", "nightly", tz="Europe/Paris"),
        cron("0 12 * * mon#2", "add", name="second-monday", args=(1, 1)),
    ]
    (runner,) = make_runners(jobs, ManualClock(datetime(2030, 1, 14, 12, tzinfo=UTC)))
    await runner.step()  # second-monday runs at 2030-01-14 12:00


async def test_live_list_table(registered, redis_url) -> None:
    code, out, err = await cli("list", "--redis", redis_url)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == " ".join(LIVE_HEADER).split()
    assert lines[1].startswith("nightly ") and "2030-01-15 02:30:00 +01:00 (Tue)" in lines[1]
    assert lines[1].split()[-4:] == ["-", "-", "-", "active"]
    assert "2030-01-14 12:00:00 +00:00 (Mon)" in lines[2] and "2030-02-11 12:00:00" in lines[2]


async def test_live_list_json_reads_env_url(registered, redis_url, monkeypatch) -> None:
    monkeypatch.setenv("AQUEUE_REDIS_URL", redis_url)
    code, out, _ = await cli("list", "--json")
    assert code == 0
    records = {r["name"]: r for r in json.loads(out)}
    assert records["second-monday"]["last_run"] == "2030-01-14T12:00:00+00:00"
    assert records["nightly"]["next_run"] == "2030-01-15T01:30:00+00:00"  # 02:30 in Paris
    assert records["nightly"]["runs"] == 0


async def test_live_list_empty(redis_url) -> None:
    assert await cli("list", "--redis", redis_url) == (0, "(no cron jobs registered)\n", "")


async def test_pause_resume_trigger_commands(registered, redis_url, client, sync_r) -> None:
    assert await cli("pause", "nightly", "--redis", redis_url) == (0, "paused nightly\n", "")
    code, out, _ = await cli("list", "--redis", redis_url)
    assert [line.split()[-1] for line in out.splitlines()[1:]] == ["paused", "active"]
    assert await cli("resume", "nightly", "--redis", redis_url) == (0, "resumed nightly\n", "")
    assert [e.paused for e in await list_jobs(client)] == [False, False]

    code, out, err = await cli("trigger", "second-monday", "--redis", redis_url)
    assert (code, err) == (0, "")
    job_id = out.strip()
    assert job_id.startswith("cron:second-monday:manual:")
    assert sync_r.zscore("arq:queue", job_id) is not None


@pytest.mark.parametrize("command", ["pause", "resume", "trigger"])
async def test_unknown_name_is_one_line_exit_1(redis_url, command) -> None:
    code, out, err = await cli(command, "ghost", "--redis", redis_url)
    assert (code, out) == (1, "")
    assert err == "error: no cron job named 'ghost' is registered (is a worker running it?)\n"
