"""Templates: how a node's input (or the workflow's result) is assembled from nodes' results.

A template is ``Ref(node)`` (that node's result) or ``ListOf(templates)`` (a JSON array of
them; nested for nested groups). :func:`template_parts` flattens a template into literal JSON
fragments and node ids, so that the Redis runtime can build the input JSON by concatenation
(``"[" .. result_3 .. "," .. result_4 .. "]"``) without parsing any result.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aqueue.errors import WorkflowError
from aqueue.workflows._base import describe


@dataclass(frozen=True)
class Ref:
    """The result of the node with id ``node``."""

    node: int


@dataclass(frozen=True)
class ListOf:
    """A list whose items are the values of ``items`` (an empty ListOf is the constant ``[]``)."""

    items: tuple[Template, ...]


Template = Ref | ListOf


def template_refs(template: Template) -> Iterator[int]:
    """Yield the node ids ``template`` references, left to right (repeats included)."""
    if isinstance(template, Ref):
        yield template.node
        return
    for item in template.items:
        yield from template_refs(item)


def evaluate_template(template: Template, results: Mapping[int, Any]) -> Any:
    """Return the value ``template`` denotes, given each referenced node's (decoded) result."""
    if isinstance(template, Ref):
        return results[template.node]
    return [evaluate_template(item, results) for item in template.items]


def template_parts(template: Template) -> list[str | int]:
    """Return literal JSON fragments and node ids; adjacent literals are merged.

    Concatenating the literals with the serialized JSON result of each node id gives the JSON
    text of :func:`evaluate_template`'s value.
    """
    return list(_merge_literals(_raw_parts(template)))


def _merge_literals(parts: Iterator[str | int]) -> Iterator[str | int]:
    for is_literal, run in itertools.groupby(parts, key=lambda part: isinstance(part, str)):
        if is_literal:
            yield "".join(str(part) for part in run)
        else:
            yield from run


def _raw_parts(template: Template) -> Iterator[str | int]:
    if isinstance(template, Ref):
        yield template.node
        return
    yield "["
    for position, item in enumerate(template.items):
        if position:
            yield ","
        yield from _raw_parts(item)
    yield "]"


def template_to_json(template: Template) -> int | list[Any]:
    """Return a compact JSON form: a node id for a Ref, a list of such forms for a ListOf."""
    if isinstance(template, Ref):
        return template.node
    return [template_to_json(item) for item in template.items]


def template_from_json(data: Any) -> Template:
    """Rebuild a template from :func:`template_to_json` output."""
    if isinstance(data, int) and not isinstance(data, bool):
        return Ref(data)
    if isinstance(data, list):
        return ListOf(tuple(template_from_json(item) for item in data))
    raise WorkflowError(f"a template is a node id or a list of templates, not {describe(data)}")
