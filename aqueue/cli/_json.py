"""The CLI's ``--json`` output: stable field names, ISO-8601 UTC times, one JSON document per command."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson

__all__ = ["dumps"]


def _default(value: Any) -> Any:
    if isinstance(value, BaseException):
        return {"type": type(value).__name__, "message": str(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)  # a task's own object: shown, not rebuilt


def _utc(value: Any) -> Any:
    """Return ``value`` with every datetime in it turned to UTC (naive ones are read as UTC)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, dict):
        return {k: _utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utc(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Return ``value`` (dataclasses, lists, dicts of them) as one line of JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return orjson.dumps(_utc(value), default=_default, option=orjson.OPT_NON_STR_KEYS).decode()
