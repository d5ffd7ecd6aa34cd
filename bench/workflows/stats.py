"""Summaries of timing samples (seconds in, milliseconds out), without numpy."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0..100), linear between closest ranks (numpy's default)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Return n, median, p90 and min of ``seconds``, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": median(ms), "p90": percentile(ms, 90), "min": min(ms)}


def phase_summary(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Summarise each phase (``total``, ``start``, …) across runs."""
    return {phase: summary_ms([s[phase] for s in samples]) for phase in samples[0]}
