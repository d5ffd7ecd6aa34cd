"""CPU meters: this process's (``getrusage``) and redis-server's (``INFO cpu``), and one timed action.

Standard library only, so that every child process can use it whatever ``aqueue`` it runs.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

#: The two ``INFO cpu`` fields summed: the whole redis-server process (all threads), user and system time.
REDIS_CPU_FIELDS = ("used_cpu_user", "used_cpu_sys")


def process_cpu_s() -> float:
    """Return this process's CPU seconds so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parse_info(text: str) -> dict[str, str]:
    """Return the ``field:value`` lines of a raw ``INFO`` reply as a dict (sections and blanks skipped)."""
    fields = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip()] = value.strip()
    return fields


def redis_cpu_s(info: Mapping[str, Any] | str) -> float:
    """Return redis-server's CPU seconds (``used_cpu_user + used_cpu_sys``) from an ``INFO cpu`` reply.

    ``info`` is redis-py's parsed dict or the raw text. A reply without both fields is an error, not zero.
    """
    fields: Mapping[str, Any] = parse_info(info) if isinstance(info, str) else info
    missing = [name for name in REDIS_CPU_FIELDS if name not in fields]
    if missing:
        raise ValueError(f"INFO cpu reply has no {', '.join(missing)}: {sorted(fields)[:10]}")
    return sum(float(fields[name]) for name in REDIS_CPU_FIELDS)


def per_job_us(seconds: float, jobs: int) -> float:
    """Return ``seconds`` spread over ``jobs`` jobs, in microseconds per job."""
    if jobs <= 0:
        raise ValueError(f"jobs must be positive, got {jobs}")
    return seconds / jobs * 1e6


async def timed(
    n: int, action: Callable[[], Awaitable[Any]], redis_cpu: Callable[[], Awaitable[float]]
) -> dict[str, float]:
    """Run ``action`` (``n`` jobs) once; return jobs/s, this process's CPU µs/job and Redis CPU µs/job."""
    redis0, cpu0, t0 = await redis_cpu(), process_cpu_s(), time.perf_counter()
    await action()
    wall, cpu = time.perf_counter() - t0, process_cpu_s() - cpu0
    redis = await redis_cpu() - redis0
    return {"rate": n / wall, "producer_us": per_job_us(cpu, n), "redis_us": per_job_us(redis, n)}
