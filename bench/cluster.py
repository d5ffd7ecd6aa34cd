"""``python -m bench.cluster [--quick] [--rounds N]``: drain on a 3-shard Redis Cluster beside one Redis.

Two deployments of the same ``redis-server`` binary, started side by side: one plain Redis, and a
Redis Cluster of three primaries (no replicas; ``tests/cluster.py`` builds it with ``redis-cli
--cluster create``). On each, three queues (``alpha``, ``green``, ``red``: on a cluster their hash
tags fall on the three shards) are filled with ``--jobs`` no-op jobs each, then drained by three
worker processes (``bench.child``, burst mode, one per queue, ``max_jobs=100``) started together.
The drain rate is all jobs over the wall time from the go to the last worker's end. Rounds
alternate which deployment goes first (drift on a shared machine hits both alike); each figure is
the median. The ratio cluster ÷ one Redis says what the extra shards buy on this machine: with
fewer cores than processes (three workers and three or one servers) the cluster cannot scale.
Results: ``bench/results/cluster.{md,json}`` (``--quick``: ``cluster-quick.{md,json}``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis as sync_redis
from redis.asyncio import Redis

from aqueue import Client, _loop
from aqueue.embedded import RedisServer, find_redis_server
from bench.peers import Peer
from bench.procs import workers
from tests.cluster import ClusterGroup, redis_cli  # the suite's harness: one way to build a cluster

OUT_DIR = Path(__file__).resolve().parent / "results"
QUEUES = ("alpha", "green", "red")
FILL_BATCH = 500


async def flush(url: str, cluster: ClusterGroup | None) -> None:
    """Empty the deployment."""
    if cluster is not None:
        cluster.flush()
        return
    pool: Redis = Redis.from_url(url)
    await pool.flushall()
    await pool.aclose()


async def fill(url: str, jobs: int) -> None:
    """Enqueue ``jobs`` no-op jobs on each queue."""
    async with Client(url) as client:
        for queue in QUEUES:
            for start in range(0, jobs, FILL_BATCH):
                calls = [() for _ in range(min(FILL_BATCH, jobs - start))]
                await client.enqueue_many("noop", calls, _queue_name=queue)


@dataclass
class Drain:
    """One drain: its rate, and the CPU the workers and the Redis servers spent per job."""

    jobs_per_s: float
    worker_cpu_us: float
    redis_cpu_us: float


def redis_cpu_s(ports: list[int]) -> float:
    """Return the CPU (user + sys) the servers on ``ports`` have used so far."""
    total = 0.0
    for port in ports:
        with sync_redis.Redis(host="127.0.0.1", port=port) as r:
            info = r.info("cpu")
            total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return total


async def drain(url: str, cluster: ClusterGroup | None, ports: list[int], jobs: int) -> Drain:
    """Drain three queues of ``jobs`` each with three burst workers (one per queue)."""
    await flush(url, cluster)
    await fill(url, jobs)
    cpu_before = redis_cpu_s(ports)
    async with contextlib.AsyncExitStack() as stack:
        procs = []
        for queue in QUEUES:
            peer = Peer(f"aqueue-{queue}", queue, "aqueue", None, queue)
            procs += await stack.enter_async_context(workers(peer, url, burst=True))
        started = time.time()
        for proc in procs:
            await proc.go()
        reports = [await proc.expect("done", 300) for proc in procs]
    redis_cpu = redis_cpu_s(ports) - cpu_before
    ran = sum(int(r["jobs"]) for r in reports)
    if ran != jobs * len(QUEUES):
        raise RuntimeError(f"the workers ran {ran} jobs, not {jobs * len(QUEUES)}")
    elapsed = max(float(r["t_end"]) for r in reports) - started
    worker_cpu = sum(float(r["cpu_s"]) for r in reports)
    return Drain(ran / elapsed, worker_cpu / ran * 1e6, redis_cpu / ran * 1e6)


Deployment = tuple[str, ClusterGroup | None, list[int]]


async def measure(deployments: dict[str, Deployment], rounds: int, jobs: int) -> dict[str, list[Drain]]:
    """Return each deployment's drains, one per round, in alternating order."""
    drains: dict[str, list[Drain]] = {name: [] for name in deployments}
    names = list(deployments)
    for round_no in range(rounds):
        for name in names if round_no % 2 == 0 else names[::-1]:
            drains[name].append(await drain(*deployments[name], jobs))
    return drains


def report(drains: dict[str, list[Drain]], binary: str, rounds: int, jobs: int) -> tuple[str, dict[str, Any]]:
    """Return the markdown table and the JSON record."""
    rates = {name: [d.jobs_per_s for d in runs] for name, runs in drains.items()}
    single, sharded = statistics.median(rates["one Redis"]), statistics.median(rates["cluster"])

    def cpu(name: str, field: str) -> str:
        return f"{statistics.median(getattr(d, field) for d in drains[name]):.0f}"

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Drain on a 3-shard Redis Cluster beside one Redis",
        "",
        f"redis-server `{binary}`, loopback, {os.cpu_count()} CPUs (load {load:.1f} at the end), "
        f"{platform.python_version()}; three queues × {jobs:,} no-op jobs, drained by three burst worker "
        f"processes (one per queue, max_jobs=100); median of {rounds} rounds in alternating order.",
        "",
        "| deployment | drain jobs/s (median) | rounds | worker CPU µs/job | Redis CPU µs/job (all nodes) |",
        "|---|---|---|---|---|",
        *(
            f"| {label} | {statistics.median(rates[name]):,.0f} | {_listed(rates[name])}"
            f" | {cpu(name, 'worker_cpu_us')} | {cpu(name, 'redis_cpu_us')} |"
            for name, label in (("one Redis", "one Redis"), ("cluster", "cluster, 3 primaries"))
        ),
        "",
        f"cluster ÷ one Redis: **{sharded / single:.2f}**",
    ]
    runs = {name: [asdict(d) for d in runs] for name, runs in drains.items()}
    record = {"jobs_per_queue": jobs, "queues": list(QUEUES), "rounds": rounds, "drains": runs}
    record |= {"ratio": sharded / single, "cpus": os.cpu_count(), "load": load, "binary": binary}
    return "\n".join(lines) + "\n", record


def _listed(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 × 2,000 jobs, 2 rounds (a smoke run)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--jobs", type=int, default=None, help="jobs per queue (default 20,000; quick 2,000)")
    options = parser.parse_args()
    rounds = options.rounds or (2 if options.quick else 4)
    jobs = options.jobs or (2_000 if options.quick else 20_000)
    cli = redis_cli()
    if cli is None:
        raise SystemExit("bench.cluster needs redis-cli 5+ (Debian's redis-tools) to create a cluster")
    binary = find_redis_server()
    with RedisServer(binary=binary) as plain, ClusterGroup(cli, replicas=0) as cluster:
        deployments: dict[str, Deployment] = {
            "one Redis": (plain.url, None, [plain.port]),
            "cluster": (cluster.url, cluster, cluster.primaries()),
        }
        drains = _loop.run(measure(deployments, rounds, jobs))
    text, record = report(drains, binary, rounds, jobs)
    print(text)
    stem = "cluster-quick" if options.quick else "cluster"
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / f"{stem}.md").write_text(text, encoding="utf-8")
    (OUT_DIR / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
