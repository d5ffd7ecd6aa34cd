"""Compile any canvas element into a :class:`~aqueue.workflows._graph.WorkflowGraph`.

Compiling an element, given what it receives (``input``, a template or ``None``) and what it
must wait for (``after``, node ids), emits its nodes in id order and returns a span: its result
template and its ``done`` ids (the nodes whose completion means the element is complete):

=========  ==============================================================================
element    compiles to
=========  ==============================================================================
signature  one node: parents ``after``, input ``input`` (``None`` if immutable or map with items)
chain      each step gets the previous step's result and ``done``; span of the last step
group      each member gets ``input`` and ``after``; result ``ListOf(members' results)``
chord      ``chain(header, body)``
dag        roots get ``input``/``after``; a step gets its ``after`` steps' results and done ids
=========  ==============================================================================

An element that makes no node (an empty group) passes ``after`` through as its ``done``, so
what follows it still waits for what came before it.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass

from aqueue.errors import WorkflowError
from aqueue.workflows._base import CanvasElement, Chain, as_signature, describe
from aqueue.workflows._dag import DagFlow, DagStep, Links, links_tuple
from aqueue.workflows._graph import Node, WorkflowGraph, assemble_graph
from aqueue.workflows._group import Chord, Group
from aqueue.workflows._signature import Signature
from aqueue.workflows._template import ListOf, Ref, Template


@dataclass(frozen=True)
class _Context:
    """What an element receives: its input, the ids it waits for, its first id, its errback."""

    input: Template | None
    after: tuple[int, ...]
    first_id: int
    errback: Signature | None


@dataclass(frozen=True)
class _Span:
    """What compiling an element produced: its result, its done ids, the next free id."""

    result: Template
    done: tuple[int, ...]
    next_id: int


_Emitter = Generator[Node, None, _Span]


def compile_workflow(element: CanvasElement, *, on_error: Signature | None = None) -> WorkflowGraph:
    """Return the graph of ``element``; ``on_error`` is the workflow-level error callback."""
    if not isinstance(element, CanvasElement):
        raise WorkflowError(f"a workflow must be a canvas element, not {describe(element)}")
    handler = None if on_error is None else as_signature(on_error, "workflow on_error handler")
    emitter = _compile(element, _Context(None, (), 0, None))
    nodes: list[Node] = []
    while True:
        try:
            nodes.append(next(emitter))
        except StopIteration as stop:
            return assemble_graph(nodes, stop.value.result, handler)


def _compile(element: CanvasElement, outer: _Context) -> _Emitter:
    errback = outer.errback if element.errback is None else element.errback
    context = _Context(outer.input, outer.after, outer.first_id, errback)
    if isinstance(element, Signature):
        return (yield from _compile_signature(element, context))
    if isinstance(element, Chain):
        return (yield from _compile_sequence(element.steps, context))
    if isinstance(element, Chord):
        return (yield from _compile_sequence((element.header, element.body), context))
    if isinstance(element, Group):
        return (yield from _compile_group(element, context))
    if isinstance(element, DagFlow):
        return (yield from _compile_dag(element, context))
    raise WorkflowError(f"cannot compile {describe(element)}")


def _compile_signature(signature: Signature, context: _Context) -> _Emitter:
    node_id = context.first_id
    yield Node(
        id=node_id,
        task=signature.task,
        kind=signature.kind,
        args=signature.args,
        kwargs=signature.kwargs,
        options=signature.options,
        items=signature.items,
        parents=context.after,
        input=_signature_input(signature, context.input),
        on_error=context.errback,
    )
    return _Span(Ref(node_id), (node_id,), node_id + 1)


def _signature_input(signature: Signature, incoming: Template | None) -> Template | None:
    if signature.kind != "task" and signature.items is None and (signature.immutable or incoming is None):
        raise WorkflowError(f"{signature!r} has no items: give it items or put it after a step")
    if signature.immutable or signature.items is not None:
        return None
    return incoming


def _compile_sequence(steps: Sequence[CanvasElement], context: _Context) -> _Emitter:
    span = yield from _compile(steps[0], context)
    for step in itertools.islice(steps, 1, None):
        span = yield from _compile(step, _Context(span.result, span.done, span.next_id, context.errback))
    return span


def _compile_group(group: Group, context: _Context) -> _Emitter:
    results: list[Template] = []
    done: list[int] = []
    next_id = context.first_id
    for member in group.members:
        member_context = _Context(context.input, context.after, next_id, context.errback)
        span = yield from _compile(member, member_context)
        results.append(span.result)
        done.extend(span.done)
        next_id = span.next_id
    return _Span(ListOf(tuple(results)), _prune(done, context), next_id)


def _prune(done: Iterable[int], context: _Context) -> tuple[int, ...]:
    """Return distinct ``done`` ids made inside the element, or ``context.after`` if none were.

    Every node made inside an element waits (transitively) for all of ``context.after``, so
    those ids are redundant as soon as one new id is present.
    """
    new = tuple(dict.fromkeys(node_id for node_id in done if node_id >= context.first_id))
    return new or context.after


def _compile_dag(flow: DagFlow, context: _Context) -> _Emitter:
    spans: list[_Span] = []
    next_id = context.first_id
    for step in flow.steps:
        span = yield from _compile(step.element, _dag_step_context(step, spans, context, next_id))
        spans.append(span)
        next_id = span.next_id
    done = _prune((node_id for index in flow.sinks() for node_id in spans[index].done), context)
    return _Span(_links_template(flow.output, spans), done, next_id)


def _dag_step_context(step: DagStep, spans: Sequence[_Span], context: _Context, next_id: int) -> _Context:
    if step.after is None:
        return _Context(context.input, context.after, next_id, context.errback)
    waits = (node_id for index in links_tuple(step.after) for node_id in spans[index].done)
    return _Context(_links_template(step.after, spans), _prune(waits, context), next_id, context.errback)


def _links_template(links: Links, spans: Sequence[_Span]) -> Template:
    if isinstance(links, int):
        return spans[links].result
    return ListOf(tuple(spans[index].result for index in links))
