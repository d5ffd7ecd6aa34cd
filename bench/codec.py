"""``python -m bench.codec [--n N]``: what encoding a job's arguments costs, per call, in this process.

No Redis and no worker: it times what ``enqueue`` runs before its one round trip,
``aqueue._envelope.encode_job`` with the default serializer, and what a worker runs first,
``job_deserializer``, for one job's arguments of each kind: a plain call (str/int/float/bool/None: the
fast path, orjson directly with no tag walk), tagged built-ins (datetime, UUID, tuple), an enum, a
small dataclass, a nested dataclass, a pydantic model (if pydantic is installed) and a registered
codec. Each figure is the best of several repeats of N calls, in µs per call.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple
from uuid import UUID

from aqueue._envelope import encode_job
from aqueue.serialization import job_deserializer, job_serializer, plain_call, register

try:
    from pydantic import BaseModel
except ImportError:  # the measurement runs without it, minus its row
    BaseModel = None  # type: ignore[assignment,misc]

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    quantity: int
    price: float
    gift: bool


@dataclass(slots=True)
class Order:
    id: UUID
    when: datetime
    colour: Colour
    items: list[Item]
    total: Decimal
    count: int = field(init=False)

    def __post_init__(self) -> None:
        self.count = len(self.items)


class Money:
    __slots__ = ("amount", "currency")

    def __init__(self, amount: str, currency: str) -> None:
        self.amount, self.currency = amount, currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.amount, self.currency) == (other.amount, other.currency)

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))


register(Money, lambda m: [m.amount, m.currency], lambda v: Money(*v), name="bench.money")

if BaseModel is not None:

    class ItemModel(BaseModel):
        sku: str
        quantity: int
        price: float
        gift: bool


class Row(NamedTuple):
    case: str
    plain: bool
    encode_us: float
    decode_us: float
    size: int


def cases() -> list[tuple[str, tuple[Any, ...]]]:
    """Return each case's positional arguments."""
    item = Item("sku-1", 2, 9.5, False)
    order = Order(
        UUID(int=7),
        WHEN,
        Colour.GREEN,
        [Item(f"sku-{i}", i, 1.5 * i, i % 2 == 0) for i in range(10)],
        Decimal("99.90"),
    )
    found: list[tuple[str, tuple[Any, ...]]] = [
        ("plain call (fast path)", ("sku-1", 2, 9.5, False)),
        ("datetime, UUID, tuple", (WHEN, UUID(int=7), ("a", 1))),
        ("enum (StrEnum)", (Colour.RED,)),
        ("dataclass, 4 plain fields", (item,)),
        ("dataclass, nested (10 items, datetime, enum)", (order,)),
        ("registered codec", (Money("1.50", "EUR"),)),
    ]
    if BaseModel is not None:
        found.insert(
            4,
            ("pydantic model, 4 plain fields", (ItemModel(sku="sku-1", quantity=2, price=9.5, gift=False),)),
        )
    return found


def best_us(call: Callable[[], Any], n: int, repeats: int) -> float:
    """Return the fastest of ``repeats`` runs of ``n`` calls, in µs per call."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter_ns() - start) / n / 1000)
    return best


def measure(n: int = 20_000, repeats: int = 5) -> list[Row]:
    """Time encoding and decoding one job envelope per case."""
    rows = []
    for case, args in cases():
        data = encode_job(job_serializer, "task", args, {}, job_try=None, enqueue_ms=1)
        if job_deserializer(data)["a"] != list(args):
            raise AssertionError(f"{case}: the arguments did not round-trip")
        encode = best_us(
            lambda a=args: encode_job(job_serializer, "task", a, {}, job_try=None, enqueue_ms=1), n, repeats
        )
        decode = best_us(lambda d=data: job_deserializer(d), n, repeats)
        rows.append(Row(case, plain_call(args, {}), encode, decode, len(data)))
    return rows


def table(rows: list[Row]) -> str:
    lines = [
        "| arguments | fast path | encode_job µs | job_deserializer µs | bytes |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.case} | {'yes' if r.plain else 'no'} | {r.encode_us:.2f} | {r.decode_us:.2f} | {r.size} |"
        for r in rows
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.codec", description=__doc__)
    p.add_argument("--n", type=int, default=20_000, help="calls per repeat (default 20,000)")
    p.add_argument("--repeats", type=int, default=5, help="repeats, the best is kept (default 5)")
    args = p.parse_args()
    print(table(measure(args.n, args.repeats)))


if __name__ == "__main__":
    main()
