"""Machine and software versions for the report header."""

from __future__ import annotations

import os
import platform
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
