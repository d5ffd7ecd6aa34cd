"""Cron scheduling for aqueue: definitions, next-run maths across DST, catch-up policies, clocks.

The Redis runner that claims slots lives elsewhere; everything here is pure.
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
from aqueue.scheduler.zones import resolve_zone, slot_id

__all__ = [
    "MAX_CATCHUP",
    "MISSED_POLICIES",
    "ON_TIME_WINDOW",
    "OVERLAP_POLICIES",
    "Clock",
    "CronExpression",
    "CronJob",
    "ManualClock",
    "MissedPolicy",
    "OverlapDecision",
    "OverlapPolicy",
    "SystemClock",
    "check_unique_names",
    "cron",
    "due_slots",
    "overlap_decision",
    "parse_expression",
    "resolve_zone",
    "slot_id",
]
