"""Groups (members run in parallel; the result is their results' list) and chords.

A chord is a group followed by a callback that receives the list of header results first:
``chord(header, body)`` runs exactly like ``chain(group(header), body)``; it is kept as its own
element so that it reads, prints and round-trips as what the user wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from aqueue.errors import WorkflowError
from aqueue.workflows._base import (
    CanvasElement,
    check_elements,
    collect_elements,
    describe,
    element_from_dict,
)


@dataclass(frozen=True, repr=False)
class Group(CanvasElement, tag="group"):
    """Members run in parallel; the result is the list of their results, in member order."""

    members: tuple[CanvasElement, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", check_elements(tuple(self.members), "group"))

    def __repr__(self) -> str:
        """Return ``group(a, b, ...)``-style text."""
        return f"group({', '.join(map(repr, self.members))}){self._errback_repr()}"

    def _body_to_dict(self) -> dict[str, Any]:
        return {"members": [member.to_dict() for member in self.members]}

    @classmethod
    def _body_from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(tuple(element_from_dict(member) for member in data["members"]))


@dataclass(frozen=True, repr=False)
class Chord(CanvasElement, tag="chord"):
    """A header group, then ``body`` called with the list of header results prepended."""

    header: Group
    body: CanvasElement

    def __post_init__(self) -> None:
        if not isinstance(self.header, Group):
            raise WorkflowError(f"a chord header must be a group, not {describe(self.header)}")
        check_elements((self.body,), "chord body")

    def __repr__(self) -> str:
        """Return ``chord([a, b, ...], body)``-style text."""
        members = f"[{', '.join(map(repr, self.header.members))}]"
        header = members if self.header.errback is None else repr(self.header)
        return f"chord({header}, {self.body!r}){self._errback_repr()}"

    def _body_to_dict(self) -> dict[str, Any]:
        return {"header": self.header.to_dict(), "body": self.body.to_dict()}

    @classmethod
    def _body_from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(Group.from_dict(data["header"]), element_from_dict(data["body"]))


def group(*members: Any) -> Group:
    """Return a group of ``members`` (arguments, or one iterable such as a generator, read now)."""
    return Group(collect_elements(members, "group"))


def chord(header: Any, body: CanvasElement) -> Chord:
    """Return a chord: ``header`` (a group or an iterable of elements), then ``body``."""
    header_group = header if isinstance(header, Group) else group(header)
    return Chord(header_group, body)
