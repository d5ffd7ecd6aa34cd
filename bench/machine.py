"""Machine and software versions for the report header."""

from __future__ import annotations

import os
import platform
import resource
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from redis.asyncio import Redis


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _versions(*names: str) -> str:
    out = []
    for name in names:
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


async def info(redis: Redis, binary: str) -> dict[str, Any]:
    server = await redis.info("server")
    return {
        "machine": f"{os.cpu_count()} cores ({_cpu_model()}), Linux {platform.release()}",
        "python": f"{sys.version.split()[0]} ({sys.executable})",
        "redis-server": f"{server['redis_version']} ({binary}), TCP loopback, no persistence",
        "libraries": _versions("aqueue", "arq", "redis", "hiredis", "uvloop", "orjson"),
    }


def machine_busy_s() -> float:
    """Return the CPU seconds all processes on the machine have used (``/proc/stat``; 0 if unreadable)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """Return this process's CPU plus that of its reaped children (workers, redis-server once stopped)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def foreign_load(busy0: float, own0: float, wall_s: float) -> str:
    """Describe how much CPU other processes used during the run (they skew every number)."""
    busy, own = machine_busy_s() - busy0, own_cpu_s() - own0
    cores = os.cpu_count() or 1
    other = max(busy - own, 0.0)
    return (
        f"machine busy {busy:.0f} CPU-s of {wall_s * cores:.0f} available; this benchmark {own:.0f} CPU-s; "
        f"other processes {other:.0f} CPU-s ({other / wall_s:.2f} cores on average); "
        f"loadavg at end {os.getloadavg()[0]:.2f}"
    )
