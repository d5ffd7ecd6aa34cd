"""``python -m bench --ab REF``: the working tree's aqueue (A) against aqueue at git ref REF (B), one run.

Both sides run the same measurements (drain, pickup, enqueue) on the same redis-server, interleaved
round by round: round 1 runs each measurement for A then B, round 2 for B then A, and so on, so drift on
the machine (other processes, CPU frequency, a warming Redis) hits both sides alike. Each side's workers
and producer are child processes with that side's code first on ``PYTHONPATH``: A the run's snapshot of
the working tree, B ``aqueue/`` at REF unpacked by ``git archive`` (``bench.ref``). Every child reports
the ``aqueue/__init__.py`` it imported; a child that ran the other side's code stops the run.

Each round also drains plain arq once (default poll), so that Redis CPU per job can be compared with
arq's in the same run (issue 11's target is ≤ 0.15× arq's).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import m_drain, m_enqueue, m_pickup
from bench.context import Ctx
from bench.peers import AQUEUE, ARQ
from bench.procs import ChildProc
from bench.ref import Ref
from bench.snapshot import ENV as SNAPSHOT_ENV
from bench.snapshot import source_hash
from bench.stats import median, paired_ratios, ratio, summary_ms, verdict

STEPS = ("drain", "pickup", "enqueue")


@dataclass(frozen=True)
class Side:
    """One version of aqueue under test: ``code`` is the directory holding its ``aqueue/``."""

    key: str  # "A" or "B"
    label: str
    code: Path
    origin: str


@dataclass(frozen=True)
class Metric:
    key: str
    step: str
    label: str
    unit: str
    better: str  # "higher" or "lower"
    fmt: str = "{:,.1f}"


METRICS = (
    Metric("drain_rate", "drain", "drain, 1 worker process, max_jobs=100", "jobs/s", "higher", "{:,.0f}"),
    Metric("drain_worker_us", "drain", "drain: worker CPU (getrusage in the child)", "µs/job", "lower"),
    Metric("drain_redis_us", "drain", "drain: Redis CPU (INFO cpu across the drain)", "µs/job", "lower"),
    Metric("pickup_p50", "pickup", "pickup latency p50", "ms", "lower", "{:,.2f}"),
    Metric("pickup_p99", "pickup", "pickup latency p99", "ms", "lower", "{:,.2f}"),
    Metric("pickup_call_p50", "pickup", "pickup: enqueue call p50", "ms", "lower", "{:,.2f}"),
    Metric("one_rate", "enqueue", "enqueue one at a time", "jobs/s", "higher", "{:,.0f}"),
    Metric("one_producer_us", "enqueue", "enqueue one at a time: producer CPU", "µs/job", "lower"),
    Metric("one_redis_us", "enqueue", "enqueue one at a time: Redis CPU", "µs/job", "lower"),
    Metric("batch_rate", "enqueue", "enqueue batch (enqueue_many)", "jobs/s", "higher", "{:,.0f}"),
    Metric("batch_producer_us", "enqueue", "enqueue batch: producer CPU", "µs/job", "lower"),
    Metric("batch_redis_us", "enqueue", "enqueue batch: Redis CPU", "µs/job", "lower"),
)

#: Per-round values: side key ("A", "B", or "arq") → metric key → one value per round.
Rounds = dict[str, dict[str, list[float]]]


def sides(ref: Ref) -> tuple[Side, Side]:
    """Return A (the run's snapshot of the working tree) and B (``ref``'s code)."""
    snapshot = Path(os.environ[SNAPSHOT_ENV])
    a_origin = f"working tree, source sha256 {source_hash(snapshot / 'aqueue')} (snapshot in {snapshot})"
    return Side("A", "working tree", snapshot, a_origin), Side("B", ref.name, ref.code, ref.describe())


async def _drain(ctx: Ctx, side: Side) -> dict[str, float]:
    result = await m_drain.drain(ctx, AQUEUE, ctx.sizes.drain, code=side.code)
    _check_count(side.key, "drain", result.jobs, ctx.sizes.drain)
    return {"drain_rate": result.rate, "drain_worker_us": result.worker_us, "drain_redis_us": result.redis_us}


async def _pickup(ctx: Ctx, side: Side) -> dict[str, float]:
    latencies, calls = await m_pickup.pickup(ctx, AQUEUE, side.code)
    _check_count(side.key, "pickup", len(latencies), ctx.sizes.pickup)
    stats = summary_ms(latencies)
    return {
        "pickup_p50": stats["p50"],
        "pickup_p99": stats["p99"],
        "pickup_call_p50": summary_ms(calls)["p50"],
    }


async def _enqueue(ctx: Ctx, side: Side) -> dict[str, float]:
    result = await m_enqueue.measure(ctx, AQUEUE, side.code)
    return {f"{kind}_{name}": value for kind, values in result.items() for name, value in values.items()}


def _check_count(side: str, step: str, ran: int, expected: int) -> None:
    if ran != expected:
        raise RuntimeError(f"side {side}, {step}: {ran:,} jobs ran, expected {expected:,}")


MEASURE: dict[str, Callable[[Ctx, Side], Awaitable[dict[str, float]]]] = {
    "drain": _drain,
    "pickup": _pickup,
    "enqueue": _enqueue,
}


def order(pair: Sequence[Side], round_index: int) -> list[Side]:
    """Return the sides in the order round ``round_index`` (0-based) runs them: AB, BA, AB, …"""
    return list(pair) if round_index % 2 == 0 else list(reversed(pair))


async def run(ctx: Ctx, pair: tuple[Side, Side], steps: Sequence[str], rounds: int, arq: bool) -> Rounds:
    """Run ``rounds`` interleaved rounds of ``steps`` for both sides (and an arq drain); return the values."""
    out: Rounds = {key: defaultdict(list) for key in ("A", "B", "arq")}
    for index in range(rounds):
        if arq and "drain" in steps:
            reference = await m_drain.drain(ctx, ARQ, ctx.sizes.drain)
            _check_count("arq", "drain", reference.jobs, ctx.sizes.drain)
            out["arq"]["drain_rate"].append(reference.rate)
            out["arq"]["drain_redis_us"].append(reference.redis_us)
        for step in steps:
            for side in order(pair, index):
                for key, value in (await MEASURE[step](ctx, side)).items():
                    out[side.key][key].append(value)
        print(f"  round {index + 1}/{rounds}: {_progress(out)}", flush=True)
    return {key: dict(values) for key, values in out.items() if values}


def _progress(out: Rounds) -> str:
    shown = ("drain_rate", "drain_redis_us", "pickup_p50", "one_rate")
    return "; ".join(
        f"{key} " + " ".join(f"{side}={out[side][key][-1]:,.1f}" for side in ("A", "B") if out[side].get(key))
        for key in shown
        if out["A"].get(key)
    )


def _span(values: Sequence[float], fmt: str) -> str:
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}"


def summarize(values: Rounds, metrics: Sequence[Metric] = METRICS) -> list[dict[str, Any]]:
    """Return one summary per metric measured: medians, per-round values, the ratio A/B and a verdict."""
    rows = []
    for m in metrics:
        a, b = values.get("A", {}).get(m.key), values.get("B", {}).get(m.key)
        if not a or not b:
            continue
        per_round = paired_ratios(a, b)
        rows.append(
            {
                "metric": m.key,
                "label": m.label,
                "unit": m.unit,
                "better": m.better,
                "A": {"median": median(a), "rounds": a},
                "B": {"median": median(b), "rounds": b},
                "ratio": ratio(median(a), median(b)),
                "per_round_ratios": per_round,
                "verdict": verdict(a, b, m.better),
            }
        )
    return rows


def versus_arq(values: Rounds) -> list[dict[str, Any]]:
    """Return each side's Redis CPU per drained job and its ratio to arq's in the same rounds."""
    theirs = values.get("arq", {}).get("drain_redis_us")
    if not theirs:
        return []
    out = []
    for side in ("A", "B"):
        mine = values.get(side, {}).get("drain_redis_us")
        if mine:
            per_round = paired_ratios(mine, theirs)
            out.append(
                {"side": side, "redis_us": median(mine), "ratio": median(per_round), "rounds": per_round}
            )
    out.append({"side": "arq", "redis_us": median(theirs), "ratio": 1.0, "rounds": [1.0] * len(theirs)})
    return out


def table(rows: Sequence[dict[str, Any]], pair: tuple[Side, Side]) -> str:
    a, b = pair
    fmts = {m.key: m.fmt for m in METRICS}
    head = [
        "metric",
        "unit",
        f"A: {a.label} (median)",
        f"B: {b.label} (median)",
        "A/B",
        "A/B per round",
        "A rounds",
        "B rounds",
        "verdict",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        fmt = fmts[r["metric"]]
        cells = [
            r["label"],
            f"{r['unit']} {'↑' if r['better'] == 'higher' else '↓'}",
            fmt.format(r["A"]["median"]),
            fmt.format(r["B"]["median"]),
            "—" if r["ratio"] is None else f"{r['ratio']:.2f}×",
            _span(r["per_round_ratios"], "{:.2f}×") if r["per_round_ratios"] else "—",
            ", ".join(fmt.format(v) for v in r["A"]["rounds"]),
            ", ".join(fmt.format(v) for v in r["B"]["rounds"]),
            r["verdict"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def arq_table(rows: Sequence[dict[str, Any]], pair: tuple[Side, Side]) -> str:
    labels = {"A": f"A: {pair[0].label}", "B": f"B: {pair[1].label}", "arq": ARQ.label}
    lines = [
        "| side | Redis CPU µs/job ↓ (median) | ÷ arq's, same round (median) | per round |",
        "|---|---|---|---|",
    ]
    for r in rows:
        per_round = ", ".join(f"{v:.2f}×" for v in r["rounds"])
        lines.append(f"| {labels[r['side']]} | {r['redis_us']:,.1f} | {r['ratio']:.2f}× | {per_round} |")
    return "\n".join(lines)


NOTES = [
    "A/B: every round runs each measurement for both sides, in the order AB, BA, AB, … (so drift and "
    "order effects hit both); medians over rounds are shown with every round's value.",
    "A/B per round: A's value ÷ B's in the same round, lowest–highest. 'within noise' means the rounds "
    "disagree on which side is better (the per-round ratios straddle 1×); 'in every round' that they "
    "agree, which with few rounds and a difference of a few percent can still be noise: read the spread.",
    "Each side's producer and worker are child processes running that side's code (PYTHONPATH); the "
    "producer is a child too (`python -m bench.producer_child`), unlike `python -m bench`, so A's numbers "
    "here are not those of the plain run, but A and B are measured alike.",
    "Drain: N no-ops pre-enqueued untimed by the side's own producer; one burst worker, max_jobs=100; wall "
    "time 'go' → queue seen empty. Redis CPU: INFO cpu (used_cpu_user + used_cpu_sys) read just before "
    "'go' and just after the queue is empty, ÷ N.",
    "Pickup: N jobs 20 ms apart to an idle worker; latency = task start − producer clock read just before "
    "the enqueue call. Enqueue: one at a time after 200 warm-up calls, then a batch with enqueue_many.",
]


def markdown(
    meta: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    arq_rows: Sequence[dict[str, Any]],
    pair: tuple[Side, Side],
) -> str:
    out = [f"# aqueue A/B benchmark: working tree vs {pair[1].label} ({meta['mode']}, {meta['started']})", ""]
    out += [f"- {k}: {v}" for k, v in meta.items() if k not in ("mode", "started")]
    out += ["", table(rows, pair), ""]
    if arq_rows:
        out += ["Redis CPU per drained job against plain arq (drained once per round, same Redis):", ""]
        out += [arq_table(arq_rows, pair), ""]
    out += ["Ratios are A ÷ B: above 1× is better for ↑ rows, below 1× for ↓ rows.", ""]
    return "\n".join(out + [f"- {n}" for n in NOTES]) + "\n"


def children_seen(pair: tuple[Side, Side]) -> dict[str, list[str]]:
    """Return, per side, the ``aqueue/__init__.py`` files its children reported importing."""
    return {s.key: sorted(f for f in ChildProc.seen if Path(f).is_relative_to(s.code)) for s in pair}
