"""Missed runs and overlap, as pure functions the runner applies.

* ``missed="skip"``: only the slot that is due now runs: the latest slot in
  ``(now - ON_TIME_WINDOW, now]`` (``ON_TIME_WINDOW`` is 1 second), if it is
  later than ``last_slot``.
* ``missed="latest"``: the most recent slot in ``(last_slot, now]`` runs, once,
  provided it is within ``catchup_window`` of ``now``; older missed slots are
  dropped.
* ``missed="all"``: every slot in ``(last_slot, now]`` within ``catchup_window``
  of ``now`` runs, oldest first, at most ``MAX_CATCHUP`` (1000) per call; the
  runner records the last slot it claimed and calls again for the rest.
* With ``last_slot=None`` (the job never ran) there is no catch-up under any
  policy: only the slot due now, as for ``skip``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aqueue.scheduler._definition import CronJob
from aqueue.scheduler._policies import OverlapDecision, OverlapPolicy, check_overlap

ON_TIME_WINDOW = timedelta(seconds=1)
MAX_CATCHUP = 1000


def _on_time(job: CronJob, last_slot: datetime | None, now: datetime) -> list[datetime]:
    """Return the slot due now (within ON_TIME_WINDOW), if any and after ``last_slot``."""
    start = now - ON_TIME_WINDOW
    if last_slot is not None:
        start = max(start, last_slot)
    slots = job.slots_between(start, now)
    return slots[-1:]


def due_slots(job: CronJob, last_slot: datetime | None, now: datetime) -> list[datetime]:
    """Return the slots the runner should claim at ``now``, oldest first, per ``job.missed``."""
    if last_slot is None or job.missed == "skip":
        return _on_time(job, last_slot, now)
    start = max(last_slot, now - job.catchup_window)
    if job.missed == "all":
        return job.slots_between(start, now, limit=MAX_CATCHUP)
    return job.slots_between(start, now)[-1:]


def overlap_decision(policy: OverlapPolicy, previous_running: bool, buffered: bool) -> OverlapDecision:
    """Decide what a new slot does given the previous run's state.

    ``allow`` always runs; ``skip`` drops the slot while the previous run is
    going; ``buffer_one`` keeps one slot waiting for the previous run to end and
    drops further ones.
    """
    policy = check_overlap(policy)
    if not previous_running or policy == "allow":
        return "run"
    if policy == "buffer_one" and not buffered:
        return "buffer"
    return "skip"
