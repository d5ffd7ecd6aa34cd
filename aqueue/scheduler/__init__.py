"""Cron scheduling for aqueue: definitions, DST-aware run times, policies, clocks, the runtime.

The Redis runtime: exactly-once slot claims (:class:`CronRunner`), the live registry
(:func:`list_jobs`) and :func:`pause`, :func:`resume`, :func:`trigger`.

See ``docs/scheduler.md`` for the rules.
"""

from aqueue.scheduler.catchup import MAX_CATCHUP, ON_TIME_WINDOW, due_slots, overlap_decision
from aqueue.scheduler.clock import Clock, ManualClock, SystemClock
from aqueue.scheduler.definition import CronJob, check_unique_names, cron
from aqueue.scheduler.expression import CronExpression, parse_expression
from aqueue.scheduler.policies import (
    MISSED_POLICIES,
    OVERLAP_POLICIES,
    MissedPolicy,
    OverlapDecision,
    OverlapPolicy,
)
from aqueue.scheduler.registry import (
    CronEntry,
    CronJobNotFound,
    list_jobs,
    pause,
    resume,
    trigger,
)
from aqueue.scheduler.runner import Claim, CronRunner
from aqueue.scheduler.zones import resolve_zone, slot_id

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
