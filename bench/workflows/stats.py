"""Summaries of timing samples (seconds in, milliseconds out), without numpy."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from bench.stats import percentile


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Return n, median, p90 and min of ``seconds``, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": median(ms), "p90": percentile(ms, 90), "min": min(ms)}


def phase_summary(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Summarise each phase (``total``, ``start``, …) across runs."""
    return {phase: summary_ms([s[phase] for s in samples]) for phase in samples[0]}
