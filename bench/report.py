"""Result rows, the markdown table, and writing ``bench/results/``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.peers import PEERS
from bench.stats import ratio

RESULTS = Path(__file__).resolve().parent / "results"
ARQ_KEYS = ("arq", "arq10")


@dataclass
class Row:
    """One metric for every peer. ``values`` are numbers (None: not run); ``display`` overrides text."""

    section: str
    metric: str
    unit: str
    better: str  # "higher" or "lower"
    values: dict[str, float | None]
    fmt: str = "{:,.0f}"
    target: tuple[str, float] | None = None  # aqueue's target, e.g. (">=", 9000)
    note: str = ""
    display: dict[str, str] = field(default_factory=dict)
    bound: dict[str, str] = field(default_factory=dict)  # ">" when a value is only a lower bound

    def cell(self, key: str) -> str:
        if key in self.display:
            return self.display[key]
        value = self.values.get(key)
        return "not run" if value is None else self.bound.get(key, "") + self.fmt.format(value)

    def ratio_value(self, arq_key: str) -> float | None:
        """Return aqueue ÷ ``arq_key``'s value (None when either is missing)."""
        return ratio(self.values.get("aqueue"), self.values.get(arq_key))

    def ratio(self, arq_key: str) -> str:
        value = self.ratio_value(arq_key)
        if value is None:
            return "—"
        prefix = "<" if self.bound.get(arq_key) == ">" else ""
        return f"{prefix}{value:.2f}×"

    def as_json(self) -> dict[str, Any]:
        """Return the row for the JSON report, with the aqueue ÷ arq ratios as numbers."""
        return {**asdict(self), "ratios": {key: self.ratio_value(key) for key in ARQ_KEYS}}

    def verdict(self) -> str:
        value = self.values.get("aqueue")
        if self.target is None:
            return ""
        op, goal = self.target
        shown = f"{op} {self.fmt.format(goal)}"
        if value is None:
            return f"{shown}: not measured"
        ok = value >= goal if op == "≥" else value <= goal
        return f"{shown}: {'PASS' if ok else '**MISS**'}"


def table(rows: list[Row]) -> str:
    labels = {p.key: p.label for p in PEERS}
    head = [
        "#",
        "metric",
        "unit",
        "aqueue",
        labels["arq"],
        labels["arq10"],
        "aqueue/arq default",
        "aqueue/arq 10 ms",
        "aqueue target",
        "notes",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        unit = f"{r.unit} {'↑' if r.better == 'higher' else '↓'}"
        cells = [
            r.section,
            r.metric,
            unit,
            r.cell("aqueue"),
            r.cell("arq"),
            r.cell("arq10"),
            r.ratio("arq"),
            r.ratio("arq10"),
            r.verdict(),
            r.note,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(meta: dict[str, Any], rows: list[Row], notes: list[str]) -> str:
    header = [f"# aqueue vs arq benchmark ({meta['mode']} run, {meta['started']})", ""]
    header += [f"- {k}: {v}" for k, v in meta.items() if k not in ("mode", "started", "calibration")]
    header += [
        "- calibration (one round trip, no queue): "
        + "; ".join(f"{k}: {v}" for k, v in meta.get("calibration", {}).items())
    ]
    legend = "Ratios are aqueue ÷ arq: above 1× is better for ↑ rows, below 1× for ↓ rows."
    body = ["", table(rows), "", legend, ""]
    return "\n".join(header + body + [f"- {n}" for n in notes]) + "\n"


def write(meta: dict[str, Any], rows: list[Row], notes: list[str]) -> tuple[str, list[Path]]:
    text = markdown(meta, rows, notes)
    data = {"meta": meta, "notes": notes, "rows": [r.as_json() for r in rows]}
    return text, save(meta["mode"], text, data)


def save(mode: str, text: str, data: dict[str, Any]) -> list[Path]:
    """Write ``latest[-mode].{md,json}`` and a timestamped copy ``YYYYMMDD-HHMMSS-mode.{md,json}``."""
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{mode}"
    latest = "latest" if mode == "full" else f"latest-{mode}"
    paths = []
    for name in (latest, stamp):
        paths += [RESULTS / f"{name}.md", RESULTS / f"{name}.json"]
        paths[-2].write_text(text, encoding="utf-8")
        paths[-1].write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return paths
