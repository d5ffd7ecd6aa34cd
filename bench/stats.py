"""Percentiles without numpy (linear interpolation between closest ranks, like numpy's default)."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0..100) of ``values``."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Return n, p50, p90, p99 and max of ``seconds``, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "max": max(ms),
    }


def median(values: Sequence[float]) -> float:
    """Return the median of ``values``."""
    return percentile(values, 50)


def ratio(mine: float | None, theirs: float | None) -> float | None:
    """Return ``mine / theirs``, or None when either is missing or ``theirs`` is zero."""
    if mine is None or theirs is None or theirs == 0:
        return None
    return mine / theirs


def paired_ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Return ``a[i] / b[i]`` for each round ``i`` (rounds where ``b[i]`` is zero are skipped)."""
    if len(a) != len(b):
        raise ValueError(f"rounds differ: {len(a)} vs {len(b)}")
    return [x / y for x, y in zip(a, b, strict=True) if y != 0]


def verdict(a: Sequence[float], b: Sequence[float], better: str) -> str:
    """Compare A with B round by round: "within noise" when the per-round ratios A/B straddle 1 (the
    rounds disagree), else that A was better (or worse) in every round, by the median per-round ratio
    (``better`` is "higher" or "lower")."""
    ratios = paired_ratios(a, b)
    if not ratios:
        return "—"
    if len(ratios) == 1:
        return "one round: no spread"
    low, high, mid = min(ratios), max(ratios), median(ratios)
    if low <= 1 <= high:
        return "within noise"
    a_better = (mid > 1) == (better == "higher")
    return f"A {'better' if a_better else 'worse'} in every round (median {abs(mid - 1):.1%})"
