"""Large canvases compile quickly and to the expected sizes (times are not asserted)."""

from __future__ import annotations

from aqueue.workflows import chain, chord, group, sig
from aqueue.workflows._compiler import compile_workflow
from aqueue.workflows._template import ListOf, Ref


def test_group_of_ten_thousand() -> None:
    graph = compile_workflow(group(sig("add", i, i) for i in range(10_000)))
    assert len(graph.nodes) == len(graph.roots) == len(graph.terminals) == 10_000
    assert isinstance(graph.result, ListOf) and len(graph.result.items) == 10_000
    assert len(graph.result_parts()) == 20_001


def test_chord_of_ten_thousand() -> None:
    graph = compile_workflow(chord((sig("add", i, i) for i in range(10_000)), sig("sum")))
    callback = graph.nodes[-1]
    assert callback.pending == 10_000 and graph.terminals == (10_000,)
    assert all(node.dependents == (10_000,) for node in graph.nodes[:-1])


def test_chain_of_one_thousand() -> None:
    graph = compile_workflow(chain(sig("inc") for _ in range(1_000)))
    assert len(graph.nodes) == 1_000
    assert graph.roots == (0,) and graph.terminals == (999,) and graph.result == Ref(999)
    assert all(node.parents == (node.id - 1,) for node in graph.nodes[1:])


def test_deeply_nested_chain_of_groups() -> None:
    element = chain(group(sig("a"), sig("b")) for _ in range(500))
    graph = compile_workflow(element)
    assert len(graph.nodes) == 1_000 and graph.terminals == (998, 999)
