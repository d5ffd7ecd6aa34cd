"""Cron under test: the scheduler of a test worker runs on a clock that only ``run_cron`` moves.

The worker's own cron extension and runner do the work, unchanged: the runner's loop steps once when
the worker starts (registering the jobs and applying their ``missed`` policy, as any starting worker
does) and then parks on :class:`CronClock`, whose sleeps never end. ``run_cron(at)`` moves the clock
to ``at`` and steps that same runner itself, so each call claims exactly the slots due at ``at``
(and, as in production, a slot less than the runner's 50 ms lead after it), through the same
exactly-once Lua, with the same overlap and missed-run policies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aqueue.errors import ConfigurationError
from aqueue.extensions import WorkerExtension
from aqueue.scheduler import ManualClock
from aqueue.scheduler._extension import CronExtension
from aqueue.scheduler._runner import Claim, CronRunner

__all__ = ["CronClock", "CronRun", "attach_clock", "cron_runner", "step_at"]


@dataclass(frozen=True, slots=True)
class CronRun:
    """One slot a ``run_cron`` call claimed: the cron job, the slot, the run's job id, and what became of it.

    ``status`` is ``"run"`` (enqueued, and run by the drain that follows), ``"skip"`` or ``"buffer"``
    (the overlap policy), ``"paused"``, or ``"taken"`` (already claimed, e.g. by the worker's start).
    """

    name: str
    slot: datetime
    job_id: str
    status: str


class CronClock(ManualClock):
    """A manual clock on which the cron runner's loop parks after its first step (see the module)."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start or datetime.now(UTC))
        self.parked = asyncio.Event()
        self._never = asyncio.Event()

    async def sleep_until(self, moment: datetime) -> None:
        """Park: the runner's loop is stepped by ``run_cron`` from now on, never by the clock."""
        self.parked.set()
        await self._never.wait()


def attach_clock(extensions: Sequence[WorkerExtension], clock: CronClock) -> bool:
    """Give ``clock`` to the worker's cron extensions that schedule jobs; return whether there was one."""
    found = False
    for extension in extensions:
        if isinstance(extension, CronExtension) and extension.jobs:
            extension.clock = clock
            found = True
    return found


def cron_runner(extensions: Sequence[WorkerExtension]) -> CronRunner:
    """Return the worker's cron runner (built when the worker connected)."""
    for extension in extensions:
        if isinstance(extension, CronExtension) and extension.runner is not None:
            return extension.runner
    raise ConfigurationError("run_cron: this worker has no cron_jobs to run")


async def step_at(runner: CronRunner, clock: CronClock, at: datetime, timeout: float) -> list[CronRun]:
    """Move ``clock`` to ``at`` once the runner's loop is parked; step the runner; return its claims."""
    try:
        await asyncio.wait_for(clock.parked.wait(), timeout)
    except TimeoutError:
        raise ConfigurationError(
            f"run_cron: the cron scheduler did not finish its first step in {timeout:g}s (is Redis up?)"
        ) from None
    clock.set(at)
    return [_run(claim) for claim in await runner.step()]


def _run(claim: Claim) -> CronRun:
    return CronRun(claim.name, claim.slot, claim.job_id, str(claim.status))
