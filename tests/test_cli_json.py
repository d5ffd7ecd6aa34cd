"""``--json`` on the read commands: one JSON document, stable field names, ISO-8601 UTC times."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner, Result

from aqueue import Client, cron, task
from aqueue._worker.queue_ops import QueueOps
from aqueue.cli import main as cli_main
from aqueue.workflows import chain, sig
from tests.conftest import run_cli
from tests.support import eventually
from tests.test_dead import make_dead


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    await ctx["progress"](50, "half way")
    return x + y


@task
async def fail(ctx: dict[str, Any]) -> None:
    raise ValueError("bad input")


async def cli_json(*args: str, redis_url: str) -> Any:
    done = await asyncio.to_thread(run_cli, *args, "--json", redis_url=redis_url)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 1  # one document
    return orjson.loads(done.stdout)


async def test_job_and_status_json(client: Client, run_worker: Any, redis_url: str) -> None:
    async with run_worker([add, fail]):
        ok = await client.enqueue("add", 2, 3)
        bad = await client.enqueue("fail")
        assert ok is not None and bad is not None
        assert await ok.result(timeout=5) == 5
        await asyncio.wait_for(_finished(bad), 5)
    shown = await cli_json("job", ok.job_id, redis_url=redis_url)
    assert shown["job_id"] == ok.job_id and shown["status"] == "complete"
    assert shown["progress"]["value"] == 50 and shown["progress"]["message"] == "half way"
    result = shown["result"]
    assert (result["success"], result["result"], result["job_try"], result["function"]) == (True, 5, 1, "add")
    assert result["finish_time"].endswith("+00:00") and result["args"] == [2, 3]
    failed = await cli_json("job", bad.job_id, redis_url=redis_url)
    assert failed["result"]["success"] is False
    assert failed["result"]["result"] == {"type": "ValueError", "message": "bad input"}
    status = await cli_json("status", redis_url=redis_url)
    assert set(status) == {
        *("queue", "due", "later_or_running", "dead", "paused", "workers"),
        *("groups", "grouped", "held_back"),
    }
    assert status["queue"] == "arq:queue" and status["due"] == 0


async def _finished(job: Any) -> None:
    while await job.result_info() is None:
        await asyncio.sleep(0.02)


async def test_dead_list_json(client: Client, redis_url: str) -> None:
    job = await client.enqueue("add", 1, 1)
    assert job is not None
    ops = QueueOps(client.scripts, client.keys, client.default_queue, "doomed", 100)
    for _ in range(2):  # deliveries whose worker dies before recording anything
        await ops.claim(10, register_idle=False, max_deliveries=0)
        await asyncio.sleep(0.15)
    await ops.claim(10, register_idle=False, max_deliveries=2)
    dead = await cli_json("dead", "list", redis_url=redis_url)
    assert [d["job_id"] for d in dead] == [job.job_id]
    assert dead[0]["function"] == "add" and dead[0]["dead_at"].endswith("+00:00")
    assert len(dead[0]["history"]) == 2


#: The CLI's commands that change something (no --json); every other command is a read command.
ACTIONS = {
    *("worker", "enqueue", "dashboard", "dead requeue", "job abort"),
    *("queue pause", "queue resume", "queue purge", "cron pause", "cron resume", "cron trigger"),
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


def leaf_commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found.update(leaf_commands(command, path + " "))
        else:
            found[path] = command
    return found


def invoke(redis_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli_main, list(args), env={"AQUEUE_REDIS_URL": redis_url})


def times_in(value: Any, key: str = "") -> list[tuple[str, str]]:
    """Return (key, text) of every string in ``value`` that looks like a date and time."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in times_in(v, str(k))]
    if isinstance(value, list):
        return [t for v in value for t in times_in(v, key)]
    return [(key, value)] if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT", value) else []


@pytest.mark.transport("wire")
async def test_every_read_command_prints_one_json_document_with_utc_times(
    client: Client, run_worker: Any, redis_url: str
) -> None:
    await make_dead(client, "doomed", deliveries=2)
    async with run_worker([add], max_deliveries=2, cron_jobs=[cron("0 0 1 1 *", "add", name="yearly")]):
        job = await client.enqueue("add", 1, 2, _job_id="shown")
        run = await chain(sig("add", 1, 2), sig("add", 10)).enqueue(client)
        assert job is not None and await run.result(timeout=5) == 13
        await client.enqueue("add", 0, 0, _defer_by=60)
        await eventually(lambda: client.redis.zcard(client.keys.dead), "the dead letter")
        read_args = {
            "status": [], "jobs": [], "events": [], "dead list": [], "queue list": [],
            "job show": ["shown"], "workflow show": [run.run_id],
            "cron list": [], "cron next": ["0 9 * * mon-fri", "--tz", "Europe/Paris"],
        }  # fmt: skip
        commands = leaf_commands(cli_main)
        assert set(commands) - ACTIONS == set(read_args)  # a new read command: add it here
        for path, args in read_args.items():
            assert any(p.name == "as_json" for p in commands[path].params), path
            done = await asyncio.to_thread(invoke, redis_url, *path.split(), *args, "--json")
            assert done.exit_code == 0, (path, done.output)
            assert len(done.stdout.strip().splitlines()) == 1, path  # one document, one line
            times = times_in(orjson.loads(done.stdout))
            assert all(ISO_UTC.match(t) for _, t in times), (path, times)
            assert times or path in ("status", "queue list"), path  # every other one has a time
    for argv, code in [
        (("job", "missing", "--json"), 1),  # not found
        (("workflow", "show", "missing", "--json"), 1),
        (("jobs", "--state", "bogus", "--json"), 2),  # usage
        (("status", "--bogus", "--json"), 2),
    ]:
        done = await asyncio.to_thread(invoke, redis_url, *argv)
        assert done.exit_code == code, (argv, done.output)
        assert done.stdout == "" or code == 2, argv  # errors go to stderr, one line
