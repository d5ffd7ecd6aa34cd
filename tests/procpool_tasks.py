"""Process tasks (``@task(executor="process")``) of ``test_procpool.py``: its children import them here."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import time
from datetime import datetime
from typing import Any

from aqueue import ProcessCrashed, task


@dataclasses.dataclass(frozen=True)
class Point:
    """A rich argument: it crosses to the child and back through the job serializer."""

    x: int
    y: int


class Unrebuildable(Exception):
    """An exception whose class the job serializer can name but whose ``__init__`` refuses its args."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a}/{b}")


@task(executor="process")
def burn(ctx: dict[str, Any], n: int) -> int:
    """CPU-bound: sum of squares below ``n``."""
    return sum(i * i for i in range(n))


@task(executor="process")
def spin(ctx: dict[str, Any], seconds: float) -> int:
    """Keep one core busy for ``seconds``; return the child's pid."""
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass
    return os.getpid()


@task(executor="process")
def echo(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Return what arrived: the arguments, the ctx keys and the child's pid."""
    return {"args": args, "kwargs": kwargs, "ctx": dict(ctx), "pid": os.getpid()}


@task(executor="process")
def sleeper(ctx: dict[str, Any], seconds: float, path: str = "") -> int:
    """Write the child's pid to ``path`` (if given), then sleep ``seconds``."""
    if path:
        with open(path, "w") as f:
            f.write(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


@task(executor="process", max_tries=2, retry_on=ProcessCrashed)
def crash(ctx: dict[str, Any], how: str, every_try: bool = False) -> str:
    """Die the way ``how`` says on the first try (every try with ``every_try``), else return 'ok'."""
    if ctx["job_try"] > 1 and not every_try:
        return f"ok on try {ctx['job_try']}"
    if how == "exit":
        os._exit(3)
    if how == "segv":
        ctypes.string_at(0)
    if how == "raise":
        raise ValueError("bad value 7")
    if how == "unrebuildable":
        raise Unrebuildable(1, 2)
    if how == "result":
        return object()  # type: ignore[return-value]
    return how


@task(executor="process")
def when(ctx: dict[str, Any], moment: datetime) -> datetime:
    """Return ``moment`` (round trip of a datetime)."""
    return moment


class Settings:
    """For a worker process (``python -m aqueue worker tests.procpool_tasks.Settings``)."""

    functions = [sleeper, echo]
    process_pool_size = 2
