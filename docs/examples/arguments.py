"""Rich arguments and results, and typed enqueues: dataclasses, enums, paths, a registered codec."""

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

import aqueue
from aqueue import JobContext, task
from aqueue.serialization import register


# --8<-- [start:types]
class Size(StrEnum):
    S = "s"
    L = "l"


@dataclass(frozen=True)
class Line:
    sku: str
    size: Size
    quantity: int = 1


class Money:  # any other class: register a codec, in producers and workers alike
    def __init__(self, cents: int, currency: str) -> None:
        self.cents, self.currency = cents, currency


register(Money, lambda m: [m.cents, m.currency], lambda v: Money(*v), name="shop.money")


@task
async def invoice(ctx: JobContext, lines: list[Line], unit: Money, to: PurePosixPath) -> Money:
    assert all(isinstance(line.size, Size) for line in lines)  # each value arrives as its own type
    return Money(unit.cents * sum(line.quantity for line in lines), unit.currency)


# --8<-- [end:types]


class WorkerSettings:
    functions = [invoice]


async def main() -> None:
    # --8<-- [start:enqueue]
    lines = [Line("tee", Size.L, 2), Line("cap", Size.S)]
    job = await invoice.enqueue(lines, Money(1999, "EUR"), PurePosixPath("/srv/invoices/7.pdf"))
    total = await job.result(timeout=10)  # a Money: mypy and pyright know it too
    assert (total.cents, total.currency) == (5997, "EUR")
    # --8<-- [end:enqueue]
    await aqueue.close_default_client()
