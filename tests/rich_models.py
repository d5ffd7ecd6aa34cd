"""Pydantic models for the serialization tests (importing this module needs pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tests.rich_types import Colour, Point

VALIDATED: list[str] = []


class Address(BaseModel):
    city: str
    zip_code: str = Field(alias="zipCode")


class User(BaseModel):
    """Validators, an alias in a nested model, a stdlib dataclass field and an enum field."""

    name: str
    created: datetime
    colour: Colour
    tags: set[str] = set()
    home: Address | None = None
    spot: Point | None = None

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _record(self) -> User:
        VALIDATED.append(self.name)
        return self


class Strict(BaseModel):
    """A strict model: accepts its own JSON, not loose Python input."""

    model_config = ConfigDict(strict=True, frozen=True)

    when: datetime
    colour: Colour
    pair: tuple[int, str]


class Positive(BaseModel):
    amount: int

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("amount must be positive")
        return value


class Loose(BaseModel):
    """``Any`` fields follow pydantic's JSON round trip: a datetime there comes back as text."""

    data: Any = None
