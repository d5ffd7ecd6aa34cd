"""Workers scheduling cron jobs warn when live peers run another croniter version."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from aqueue import Client, cron, task
from aqueue.scheduler._versions import croniter_version
from tests.support import eventually


@task
async def nightly(ctx: dict[str, Any]) -> None:
    return None


async def test_a_peer_on_another_croniter_is_named(
    client: Client, run_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    versions = client.keys.scoped("cron", "croniter")
    await client.redis.hset(client.keys.worker("peer-6"), mapping={"queue": "arq:queue"})  # a live peer
    await client.redis.hset(versions, mapping={"peer-6": "6.0.0", "gone-5": "5.0.1"})  # type: ignore[misc]
    job = cron("0 3 * * *", nightly, name="nightly")
    with caplog.at_level(logging.WARNING, logger="aqueue.scheduler"):
        async with run_worker([nightly], cron_jobs=[job]) as worker:
            mine = croniter_version()
            await eventually(
                lambda: client.redis.hget(versions, worker.worker_id), "this worker's version recorded"
            )
    warnings = [r.getMessage() for r in caplog.records if "croniter" in r.getMessage()]
    assert len(warnings) == 1
    assert f"runs croniter {mine}" in warnings[0] and "peer-6 (croniter 6.0.0)" in warnings[0]
    assert "gone-5" not in warnings[0]
    assert not await client.redis.hexists(versions, "gone-5")  # type: ignore[misc]  # dropped: no live hash


async def test_the_same_version_everywhere_is_quiet(
    client: Client, run_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await client.redis.hset(client.keys.worker("peer"), mapping={"queue": "arq:queue"})
    await client.redis.hset(client.keys.scoped("cron", "croniter"), "peer", croniter_version())  # type: ignore[misc]

    async def both_recorded() -> bool:
        return bool(await client.redis.hlen(client.keys.scoped("cron", "croniter")) == 2)  # type: ignore[misc]

    with caplog.at_level(logging.WARNING, logger="aqueue.scheduler"):
        async with run_worker([nightly], cron_jobs=[cron("0 3 * * *", nightly, name="nightly")]):
            await eventually(both_recorded, "both versions recorded")
    assert not [r for r in caplog.records if "croniter" in r.getMessage()]
