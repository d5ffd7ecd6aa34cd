"""``python -m bench.cron [--seconds N] [--workers K]``: cron punctuality on an idle system.

K worker processes carry the same every-second schedule for N seconds; each run records when it was
enqueued and started relative to its slot. Reports p50/p99/max and checks each slot ran once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import redis as sync_redis

from aqueue.embedded import RedisServer
from bench.cron.tasks import SAMPLES
from bench.stats import percentile
from bench.stop import stop_processes

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def run_workers(url: str, count: int, seconds: float) -> None:
    """Run ``count`` worker processes for ``seconds``, then stop them gracefully."""
    env = {**os.environ, "AQUEUE_REDIS_URL": url, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "aqueue", "worker", "bench.cron.tasks.Settings"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        time.sleep(seconds)
    finally:
        stop_processes(*procs, grace_s=20)


def summarise(rows: list[list[str]], warmup_s: float, first_slot: float) -> dict[str, object]:
    """Return lateness percentiles and the exactly-once check over slots after the warm-up."""
    kept = [r for r in rows if float(r[3]) >= first_slot + warmup_s]
    slots = [float(r[3]) for r in kept]
    start = [float(r[0]) for r in kept]
    enqueue = [float(r[1]) for r in kept]
    expected = int(max(slots) - min(slots)) + 1 if slots else 0
    return {
        "runs": len(kept),
        "distinct_slots": len(set(slots)),
        "expected_slots": expected,
        "workers_that_ran_jobs": len({r[2] for r in kept}),
        "start_minus_slot_ms": {q: round(percentile(start, p), 2) for q, p in (("p50", 50), ("p99", 99))}
        | {"max": round(max(start), 2)},
        "enqueue_minus_slot_ms": {q: round(percentile(enqueue, p), 2) for q, p in (("p50", 50), ("p99", 99))}
        | {"max": round(max(enqueue), 2)},
    }


def _row(label: str, stats: dict[str, float]) -> str:
    return f"| {label} | {stats['p50']} | {stats['p99']} | {stats['max']} |"


def report(result: dict[str, object], seconds: float, workers: int) -> str:
    """Return the markdown report."""
    start = result["start_minus_slot_ms"]
    enqueue = result["enqueue_minus_slot_ms"]
    assert isinstance(start, dict) and isinstance(enqueue, dict)
    return "\n".join(
        [
            f"# cron punctuality ({time.strftime('%Y-%m-%d %H:%M:%S')})",
            "",
            f"- `* * * * * *` on {workers} worker processes for {seconds:g} s, one redis-server "
            f"(loadavg {os.getloadavg()[0]:.2f})",
            f"- runs: {result['runs']}, distinct slots: {result['distinct_slots']}, slots in the window: "
            f"{result['expected_slots']}, workers that ran jobs: {result['workers_that_ran_jobs']}",
            "",
            "| | p50 | p99 | max |",
            "|---|---|---|---|",
            _row("job start − slot (ms)", start),
            _row("enqueue − slot (ms; negative = enqueued ahead, due at the slot)", enqueue),
            "",
            "Target (issue 5): enqueued within 50 ms of the slot at p99 on an idle system.",
        ]
    )


def main() -> None:
    """Run the benchmark and write bench/results/cron.md and .json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    with RedisServer() as server:
        first_slot = time.time()
        run_workers(server.url, args.workers, args.seconds)
        r = sync_redis.Redis.from_url(server.url)
        rows = [x.decode().split() for x in r.lrange(SAMPLES, 0, -1)]
        r.close()
    result = summarise(rows, warmup_s=3, first_slot=first_slot)
    text = report(result, args.seconds, args.workers)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cron.md").write_text(text + "\n")
    (RESULTS / "cron.json").write_text(json.dumps(result, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
