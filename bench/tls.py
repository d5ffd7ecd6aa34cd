"""``python -m bench.tls [--quick]``: enqueue and drain over TLS beside plain TCP, on both transports.

Two embedded redis-servers of one binary (a TLS-capable one: ``AQUEUE_REDIS_TLS_SERVER`` or the first
found that has TLS): one on plain TCP, one on a TLS port only, with a throwaway CA and a client
certificate. For each server and each hot-path transport (the lean ``Wire`` and redis-py) it measures,
in this process on uvloop: enqueue one at a time (``await client.enqueue`` back to back), and the drain
of a backlog by one in-process worker (``burst``, ``max_jobs=100``: its claim, finish and wake-up calls
all on that transport). Best of ``--rounds``. Writes ``bench/results/tls-latest.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop
from redis.asyncio import Redis

from aqueue import Client, Worker
from aqueue.embedded import RedisServer, find_redis_server, make_certificates

OUT = Path(__file__).resolve().parent / "results" / "tls-latest.md"
TRANSPORTS = ("wire", "redis-py")


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def flush(url: str) -> None:
    pool: Redis = Redis.from_url(url.split("?", maxsplit=1)[0], **_tls_kwargs(url))
    await pool.flushall()
    await pool.aclose()


def _tls_kwargs(url: str) -> dict[str, str]:
    _, _, query = url.partition("?")
    return dict(pair.split("=", 1) for pair in query.split("&")) if query else {}


async def enqueue_rate(url: str, transport: str, n: int) -> float:
    """Jobs per second, one ``await enqueue`` at a time."""
    await flush(url)
    async with Client(url, transport=transport) as client:
        for _ in range(100):  # warm up: connections open, scripts loaded
            await client.enqueue("noop")
        started = time.perf_counter()
        for _ in range(n):
            await client.enqueue("noop")
        return n / (time.perf_counter() - started)


async def drain_rate(url: str, transport: str, n: int) -> float:
    """Jobs per second one burst worker takes to run a backlog of ``n`` no-op jobs."""
    await flush(url)
    async with Client(url, transport=transport) as client:
        for start in range(0, n, 500):
            await client.enqueue_many("noop", [() for _ in range(min(500, n - start))])
    worker = Worker(
        [noop], redis_settings=url, transport=transport, burst=True, max_jobs=100, handle_signals=False
    )
    started = time.perf_counter()
    await worker.async_run()
    elapsed = time.perf_counter() - started
    await worker.close()
    return n / elapsed


async def measure(
    urls: dict[str, str], rounds: int, n_enqueue: int, n_drain: int
) -> dict[tuple[str, str, str], float]:
    results: dict[tuple[str, str, str], float] = {}
    for _ in range(rounds):  # interleaved, so drift on a shared machine hits every cell alike
        for link, url in urls.items():
            for transport in TRANSPORTS:
                for what, run, n in (("enqueue", enqueue_rate, n_enqueue), ("drain", drain_rate, n_drain)):
                    rate = await run(url, transport, n)
                    key = (what, link, transport)
                    results[key] = max(results.get(key, 0.0), rate)
    return results


def report(
    results: dict[tuple[str, str, str], float], binary: str, rounds: int, sizes: tuple[int, int]
) -> str:
    lines = [
        "# TLS beside plain TCP",
        "",
        f"redis-server `{binary}`, loopback, best of {rounds} rounds; enqueue N={sizes[0]:,} one at a time, "
        f"drain N={sizes[1]:,} by one burst worker (max_jobs=100), all in one uvloop process.",
        "",
        "| jobs/s | TCP wire | TLS wire | TLS ÷ TCP (wire) | TCP redis-py | TLS redis-py "
        "| TLS ÷ TCP (redis-py) | TLS: wire ÷ redis-py |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for what in ("enqueue", "drain"):
        wire_tcp, wire_tls = results[what, "TCP", "wire"], results[what, "TLS", "wire"]
        py_tcp, py_tls = results[what, "TCP", "redis-py"], results[what, "TLS", "redis-py"]
        cells = [f"{wire_tcp:,.0f}", f"{wire_tls:,.0f}", f"{wire_tls / wire_tcp:.2f}", f"{py_tcp:,.0f}"]
        cells += [f"{py_tls:,.0f}", f"{py_tls / py_tcp:.2f}", f"{wire_tls / py_tls:.2f}"]
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tls", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N, one round (a smoke run)")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    rounds, sizes = (1, (500, 1_000)) if options.quick else (options.rounds, (5_000, 10_000))
    binary = find_redis_server(tls=True)
    with tempfile.TemporaryDirectory(prefix="aqueue-bench-tls-") as folder:
        files = make_certificates(folder)
        with RedisServer(binary=binary) as tcp, RedisServer(binary=binary, tls=files) as tls:
            urls = {"TCP": tcp.url, "TLS": tls.url}
            results = uvloop.run(measure(urls, rounds, *sizes))
    text = report(results, binary, rounds, sizes)
    print(text)
    if not options.quick:
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
