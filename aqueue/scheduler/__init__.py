"""Cron scheduling for aqueue: definitions, DST-aware run times, policies, clocks, the runtime.

The Redis runtime: exactly-once slot claims (:class:`CronRunner`), the live registry
(:func:`list_jobs`) and :func:`pause`, :func:`resume`, :func:`trigger`.

See ``docs/scheduler.md`` for the rules.
"""

from aqueue.scheduler._catchup import MAX_CATCHUP, ON_TIME_WINDOW, due_slots, overlap_decision
from aqueue.scheduler._clock import Clock, ManualClock, SystemClock
from aqueue.scheduler._definition import CronJob, check_unique_names, cron
from aqueue.scheduler._expression import CronExpression, parse_expression
from aqueue.scheduler._policies import (
    MISSED_POLICIES,
    OVERLAP_POLICIES,
    MissedPolicy,
    OverlapDecision,
    OverlapPolicy,
)
from aqueue.scheduler._registry import (
    CronEntry,
    CronJobNotFound,
    list_jobs,
    pause,
    resume,
    trigger,
)
from aqueue.scheduler._runner import Claim, CronRunner
from aqueue.scheduler._zones import resolve_zone, slot_id

__all__ = [
    "MAX_CATCHUP",
    "MISSED_POLICIES",
    "ON_TIME_WINDOW",
    "OVERLAP_POLICIES",
    "Claim",
    "Clock",
    "CronEntry",
    "CronExpression",
    "CronJob",
    "CronJobNotFound",
    "CronRunner",
    "ManualClock",
    "MissedPolicy",
    "OverlapDecision",
    "OverlapPolicy",
    "SystemClock",
    "check_unique_names",
    "cron",
    "due_slots",
    "list_jobs",
    "overlap_decision",
    "parse_expression",
    "pause",
    "resolve_zone",
    "resume",
    "slot_id",
    "trigger",
]
