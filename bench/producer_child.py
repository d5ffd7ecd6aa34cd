"""An aqueue producer child process: ``python -m bench.producer_child --url URL``.

An A/B run (``python -m bench --ab REF``) starts one per side with that side's code first on
``PYTHONPATH``, so the enqueues it measures run that side's ``aqueue.Client`` on the aqueue peer's
queue (only public names are used: older refs lay their modules out differently). Protocol on stdio,
one JSON object per line: the child prints ``{"event": "ready", "aqueue": <aqueue.__file__>}``, then
answers each command ``{"op": ..., ...}`` with ``{"event": "reply", "result": ...}``; EOF ends it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop

import aqueue
from bench.child import emit, read_line
from bench.peers import AQUEUE
from bench.producers import AqueueProducer, ArqProducer, producer

Op = Callable[[AqueueProducer | ArqProducer, dict[str, Any]], Awaitable[Any]]


async def _enqueue(prod: AqueueProducer | ArqProducer, args: dict[str, Any]) -> None:
    await prod.enqueue(args["name"], *args["args"])  # the reply carries no job handle


OPS: dict[str, Op] = {
    "enqueue": _enqueue,
    "prefill": lambda prod, a: prod.prefill(a["name"], a["n"]),
    "warm_up": lambda prod, a: prod.warm_up(a["n"]),
    "timed_one": lambda prod, a: prod.timed_one(a["n"]),
    "timed_batch": lambda prod, a: prod.timed_batch(a["n"]),
    "paced_pickups": lambda prod, a: prod.paced_pickups(a["n"], a["gap_s"]),
}


async def serve(prod: AqueueProducer | ArqProducer) -> None:
    """Answer commands until EOF; an unknown op or a failing one ends the child (traceback on stderr)."""
    while line := await read_line():
        command = json.loads(line)
        op = OPS.get(command["op"])
        if op is None:
            raise ValueError(f"unknown op {command['op']!r}; known: {', '.join(OPS)}")
        result = await op(prod, command)
        emit("reply", result=result)


async def main(args: argparse.Namespace) -> None:
    async with producer(AQUEUE, args.url) as prod:
        emit("ready", aqueue=aqueue.__file__)
        await serve(prod)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.producer_child")
    p.add_argument("--url", required=True)
    return p.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(main(parse()))
