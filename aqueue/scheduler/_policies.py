"""Names of the missed-run and overlap policies, and their validation."""

from __future__ import annotations

from typing import Literal, get_args

from aqueue.errors import ConfigurationError

MissedPolicy = Literal["skip", "latest", "all"]
"""What to do with slots that passed while no worker ran the job."""

OverlapPolicy = Literal["allow", "skip", "buffer_one"]
"""What to do when a slot comes while the previous run is still going."""

OverlapDecision = Literal["run", "skip", "buffer"]
"""The outcome of :func:`aqueue.scheduler.overlap_decision` for one slot."""

MISSED_POLICIES: tuple[MissedPolicy, ...] = get_args(MissedPolicy)
OVERLAP_POLICIES: tuple[OverlapPolicy, ...] = get_args(OverlapPolicy)


def check_missed(value: object) -> MissedPolicy:
    """Return ``value`` as a missed policy, or raise ConfigurationError naming the choices."""
    for policy in MISSED_POLICIES:
        if value == policy:
            return policy
    raise ConfigurationError(f"missed={value!r} is not one of {', '.join(MISSED_POLICIES)}")


def check_overlap(value: object) -> OverlapPolicy:
    """Return ``value`` as an overlap policy, or raise ConfigurationError naming the choices."""
    for policy in OVERLAP_POLICIES:
        if value == policy:
            return policy
    raise ConfigurationError(f"overlap={value!r} is not one of {', '.join(OVERLAP_POLICIES)}")
