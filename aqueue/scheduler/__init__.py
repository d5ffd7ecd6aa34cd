"""Cron scheduling for aqueue: definitions, DST-aware run times, exactly-once runs, the live registry.

Define schedules with :func:`cron` (in ``WorkerSettings.cron_jobs``); inspect and steer them with
:func:`list_jobs`, :func:`pause`, :func:`resume` and :func:`trigger`. Tests drive time with a
:class:`ManualClock`. See ``docs/scheduler.md`` for the rules.
"""

from aqueue.errors import CronJobNotFound
from aqueue.scheduler._clock import Clock, ManualClock, SystemClock
from aqueue.scheduler._definition import CronJob, cron
from aqueue.scheduler._policies import MissedPolicy, OverlapPolicy
from aqueue.scheduler._registry import CronEntry, list_jobs, pause, resume, trigger
from aqueue.scheduler._zones import slot_id

__all__ = [
    "Clock",
    "CronEntry",
    "CronJob",
    "CronJobNotFound",
    "ManualClock",
    "MissedPolicy",
    "OverlapPolicy",
    "SystemClock",
    "cron",
    "list_jobs",
    "pause",
    "resume",
    "slot_id",
    "trigger",
]
