"""The workflow benchmark's report: a Markdown table on stdout, and ``workflows.md`` + ``.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.workflows.stats import phase_summary

TARGETS_MS = {"chord": 200.0, "chain": 50.0}
STATS = (("p50", "median"), ("p90", "p90"), ("min", "min"))


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Add per-phase summaries (ms) next to each measurement's raw samples (s)."""
    return {kind: {"samples_s": raw[kind], "ms": phase_summary(raw[kind])} for kind in ("chord", "chain")}


def _best_celery(celery: dict[str, Any], kind: str, stat: str) -> tuple[str, float] | None:
    options = [(pool, data[kind]["ms"]["total"][stat]) for pool, data in celery.items()]
    return min(options, key=lambda o: o[1]) if options else None


def _row(label: str, target: str, ours: float, best: tuple[str, float] | None, met: bool | None) -> str:
    mark = "" if met is None else (" ✓" if met else " ✗ (misses target)")
    theirs = f"{best[1]:.0f} ms ({best[0]})" if best else "–"
    ratio = f"{best[1] / ours:.1f}×" if best else "–"
    return f"| {label} | {target} | {ours:.1f} ms{mark} | {theirs} | {ratio} |"


def main_table(data: dict[str, Any]) -> list[str]:
    sizes = data["meta"]
    names = {
        "chord": f"chord({sizes['chord_size']} no-ops) → callback",
        "chain": f"chain({sizes['chain_length']} no-ops)",
    }
    lines = [
        "| measurement (client.run → result) | target | aqueue | celery (best pool) | celery/aqueue |",
        "|---|---|---|---|---|",
    ]
    for kind in ("chord", "chain"):
        for stat, word in STATS:
            ours = data["aqueue"][kind]["ms"]["total"][stat]
            met = ours <= TARGETS_MS[kind] if stat == "p50" else None
            target = f"≤ {TARGETS_MS[kind]:.0f} ms" if stat == "p50" else ""
            best = _best_celery(data["celery"], kind, stat)
            lines.append(_row(f"{names[kind]}, {word}", target, ours, best, met))
    return lines


def phase_table(data: dict[str, Any]) -> list[str]:
    lines = [
        "| system | workflow | total median | start median (submit call) | total p90 | total min |",
        "|---|---|---|---|---|---|",
    ]
    systems = [("aqueue", data["aqueue"])] + [(f"celery {p}", d) for p, d in data["celery"].items()]
    for name, results in systems:
        for kind in ("chord", "chain"):
            ms = results[kind]["ms"]
            lines.append(
                f"| {name} | {kind} | {ms['total']['p50']:.1f} ms | {ms['start']['p50']:.1f} ms | "
                f"{ms['total']['p90']:.1f} ms | {ms['total']['min']:.1f} ms |"
            )
    return lines


def span_lines(data: dict[str, Any]) -> list[str]:
    out = []
    for kind in ("chord", "chain"):
        ms = data["aqueue"][kind]["ms"]
        out.append(
            f"- aqueue {kind}: the run's started_ms → finished_ms (recorded in Redis), median "
            f"{ms['span']['p50']:.0f} ms of {ms['total']['p50']:.1f} ms total; the submit call alone "
            f"{ms['start']['p50']:.1f} ms"
        )
    return out


def memory_lines(mem: dict[str, Any]) -> list[str]:
    members = mem["nodes"] - 1
    return [
        f"- workflow state (`arq:wf:{{run}}*`, {mem['wf_keys']} keys) right after starting a "
        f"{members}-member chord: {mem['wf_bytes']:,} bytes = **{mem['wf_bytes_per_node']:.0f} bytes "
        f"per node** ({mem['nodes']} nodes)",
        f"- plus, per queued root job: {mem['job_bytes_per_queued_job']:.0f} bytes of `arq:job:*` "
        f"payload and {mem['queue_bytes_per_queued_job']:.0f} bytes of queue sorted set "
        f"({mem['queued_jobs']} roots queued)",
    ]


def _load(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def render(data: dict[str, Any], notes: list[str]) -> str:
    meta = data["meta"]
    header = [
        f"# Workflow benchmark: aqueue vs Celery {meta.get('celery', '')}",
        "",
        f"Run {meta['date']}, {meta['runs']} timed runs per cell (after one untimed warm-up).",
        "",
    ]
    header += [f"- {k}: {v}" for k, v in meta["machine"].items()]
    load = meta["load"]
    header.append(
        f"- load average (1/5/15 min) before: {_load(load['before'])}; after: {_load(load['after'])} "
        "(anything well above ~1 before means other processes shared the cores)"
    )
    body = [
        "",
        "## Latency",
        "",
        *main_table(data),
        "",
        "## Phases",
        "",
        *phase_table(data),
        "",
        *span_lines(data),
        "",
        "## Redis memory per workflow node (aqueue)",
        "",
        *memory_lines(data["aqueue"]["memory"]),
        "",
        "## Notes",
        "",
        *[f"- {n}" for n in notes],
        "",
    ]
    return "\n".join(header + body)


def write(data: dict[str, Any], text: str, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "workflows.md", out_dir / "workflows.json"
    md.write_text(text)
    js.write_text(json.dumps(data, indent=2) + "\n")
    return md, js
