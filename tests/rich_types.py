"""Rich argument types for the serialization tests, importable by path (no pydantic here)."""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum, Flag, IntEnum, IntFlag, StrEnum, auto
from pathlib import PurePosixPath
from typing import Any
from uuid import UUID

from aqueue.serialization import register


class Colour(Enum):
    RED = "red"
    GREEN = "green"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


class Mode(StrEnum):
    FAST = "fast"
    SAFE = "safe"


class Perm(Flag):
    R = auto()
    W = auto()
    X = auto()


class Bits(IntFlag):
    A = 1
    B = 2


class Planet(Enum):
    """Members whose values are tuples."""

    EARTH = (5.97e24, 6.37e6)
    MARS = (6.42e23, 3.39e6)


@dataclass(frozen=True)
class Point:
    x: int
    y: int


@dataclass(slots=True)
class Order:
    """Nested rich fields, a derived ``init=False`` field and slots."""

    id: UUID
    when: datetime
    colour: Colour
    items: tuple[Point, ...]
    where: PurePosixPath
    price: Decimal = Decimal("0")
    tags: frozenset[str] = frozenset()
    count: int = field(init=False)

    def __post_init__(self) -> None:
        self.count = len(self.items)


@dataclass(kw_only=True)
class Options:
    retries: int
    mode: Mode = Mode.SAFE
    extra: dict[Any, Any] = field(default_factory=dict)


@dataclass
class Checked:
    """Refuses a negative amount in ``__post_init__``, on the producer and on the worker alike."""

    amount: int

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError(f"amount must not be negative, not {self.amount}")


@dataclass
class Scaled:
    """An InitVar with a default: not carried, the default applies when rebuilt."""

    base: int
    factor: InitVar[int] = 10
    value: int = field(init=False, default=0)

    def __post_init__(self, factor: int) -> None:
        self.value = self.base * factor


@dataclass
class NeedsSeed:
    """An InitVar without a default: cannot be rebuilt from its fields."""

    seed: InitVar[int]
    value: int = 0


@dataclass
class Tree:
    label: str
    children: list[Tree] = field(default_factory=list)


class Money:
    """A plain class with ``__slots__``: carried through a registered codec."""

    __slots__ = ("amount", "currency")

    def __init__(self, amount: Decimal, currency: str) -> None:
        self.amount, self.currency = amount, currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.amount, self.currency) == (other.amount, other.currency)

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __repr__(self) -> str:
        return f"Money({self.amount!r}, {self.currency!r})"


def _money_out(money: Money) -> tuple[Decimal, str]:
    return (money.amount, money.currency)


def _money_in(value: tuple[Decimal, str]) -> Money:
    return Money(*value)


register(Money, _money_out, _money_in, name="tests.money")

ORIGIN = Point(0, 0)  # an instance, not a class: a payload naming it must be refused
CALLS: list[Any] = []


def spy(*args: Any, **kwargs: Any) -> None:
    """A function a hostile payload may name: it must never be called."""
    CALLS.append((args, kwargs))


def order(n: int = 2) -> Order:
    return Order(
        UUID(int=n),
        datetime(2026, 1, 2, 3, 4, 5),
        Colour.GREEN,
        tuple(Point(i, -i) for i in range(n)),
        PurePosixPath("/srv/orders") / str(n),
        Decimal("9.90"),
        frozenset({"a", "b"}),
    )
