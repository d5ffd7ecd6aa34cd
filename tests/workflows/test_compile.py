"""Compilation of every canvas form: parents, input templates, result templates, errbacks."""

from __future__ import annotations

import pytest
from workflow_support import reference, run_graph

from aqueue.errors import WorkflowError
from aqueue.workflows import CanvasElement, chain, chord, group, si, sig
from aqueue.workflows._compiler import compile_workflow
from aqueue.workflows._graph import WorkflowGraph
from aqueue.workflows._template import ListOf, Ref


def shape(graph: WorkflowGraph) -> list[tuple[str, tuple[int, ...], object]]:
    """Per node: (task, parents, input)."""
    return [(n.task, n.parents, n.input) for n in graph.nodes]


def check_runs(element: CanvasElement) -> WorkflowGraph:
    """Compile and check the graph computes what the canvas means."""
    graph = compile_workflow(element)
    assert run_graph(graph) == reference(element)
    return graph


def test_single_signature() -> None:
    graph = check_runs(sig("add", 1, 2))
    assert shape(graph) == [("add", (), None)]
    assert (graph.result, graph.roots, graph.terminals) == (Ref(0), (0,), (0,))
    assert graph.nodes[0].args == (1, 2) and graph.nodes[0].pending == 0


def test_chain_prepends_previous_result() -> None:
    graph = check_runs(sig("fetch", "a") | sig("parse") | sig("store", "d"))
    assert shape(graph) == [("fetch", (), None), ("parse", (0,), Ref(0)), ("store", (1,), Ref(1))]
    assert [n.dependents for n in graph.nodes] == [(1,), (2,), ()]
    assert (graph.result, graph.roots, graph.terminals) == (Ref(2), (0,), (2,))


def test_immutable_step_waits_but_ignores_input() -> None:
    graph = check_runs(sig("a") | si("b", 1) | sig("c"))
    assert shape(graph) == [("a", (), None), ("b", (0,), None), ("c", (1,), Ref(1))]


def test_group_result_is_list_in_order() -> None:
    graph = check_runs(group(sig("add", i, i) for i in range(12)))
    assert all(n.parents == () and n.input is None for n in graph.nodes)
    assert graph.result == ListOf(tuple(Ref(i) for i in range(12)))
    assert graph.roots == graph.terminals == tuple(range(12))


def test_chord_callback_gets_header_list() -> None:
    graph = check_runs(chord([sig("add", i, i) for i in range(10)], sig("add", [20])))
    callback = graph.nodes[10]
    assert callback.parents == tuple(range(10)) and callback.pending == 10
    assert callback.input == ListOf(tuple(Ref(i) for i in range(10)))
    assert callback.args == ([20],)
    assert (graph.result, graph.terminals) == (Ref(10), (10,))
    assert run_graph(graph)[1] == [["add", i, i] for i in range(10)]


def test_group_after_step_prepends_to_each_member() -> None:
    graph = check_runs(sig("a") | group(sig("b"), sig("c") | sig("d")) | sig("e"))
    assert shape(graph) == [
        ("a", (), None),
        ("b", (0,), Ref(0)),
        ("c", (0,), Ref(0)),
        ("d", (2,), Ref(2)),
        ("e", (1, 3), ListOf((Ref(1), Ref(3)))),
    ]


def test_chain_of_groups() -> None:
    graph = check_runs(group(sig("a"), sig("b")) | group(sig("c"), sig("d")))
    pair = ListOf((Ref(0), Ref(1)))
    assert shape(graph)[2:] == [("c", (0, 1), pair), ("d", (0, 1), pair)]
    assert graph.result == ListOf((Ref(2), Ref(3)))


def test_chord_inside_chain() -> None:
    graph = check_runs(sig("a") | chord([sig("b"), sig("c")], sig("d")) | sig("e"))
    assert shape(graph)[3:] == [("d", (1, 2), ListOf((Ref(1), Ref(2)))), ("e", (3,), Ref(3))]


def test_chord_whose_header_holds_chains_and_chords() -> None:
    inner = chord([sig("x"), sig("y")], sig("z"))
    graph = check_runs(chord([sig("a") | sig("b"), inner], sig("cb")))
    assert shape(graph) == [
        ("a", (), None),
        ("b", (0,), Ref(0)),
        ("x", (), None),
        ("y", (), None),
        ("z", (2, 3), ListOf((Ref(2), Ref(3)))),
        ("cb", (1, 4), ListOf((Ref(1), Ref(4)))),
    ]


def test_group_inside_group_gives_nested_lists() -> None:
    graph = check_runs(group(sig("a"), group(sig("b"), group(sig("c"))), group()))
    assert graph.result == ListOf((Ref(0), ListOf((Ref(1), ListOf((Ref(2),)))), ListOf(())))


def test_empty_group() -> None:
    graph = check_runs(group())
    assert (graph.nodes, graph.result, graph.roots, graph.terminals) == ((), ListOf(()), (), ())
    assert run_graph(graph) == []


def test_empty_group_in_chain_passes_ordering_through() -> None:
    graph = check_runs(sig("a") | group() | sig("b"))
    assert shape(graph) == [("a", (), None), ("b", (0,), ListOf(()))]
    assert run_graph(graph) == ["b", []]


def test_group_mixing_empty_and_real_members_waits_only_for_new_nodes() -> None:
    graph = check_runs(sig("a") | group(group(), sig("b")) | sig("c"))
    assert shape(graph)[2] == ("c", (1,), ListOf((ListOf(()), Ref(1))))


def test_chord_with_empty_header() -> None:
    graph = check_runs(chord([], sig("cb", 1)))
    assert shape(graph) == [("cb", (), ListOf(()))]
    assert graph.nodes[0].input_parts() == ["[]"]
    assert run_graph(graph) == ["cb", [], 1]


def test_map_starmap_are_one_job() -> None:
    graph = check_runs(sig("add").map([1, 2, 3]))
    assert len(graph.nodes) == 1 and graph.nodes[0].kind == "map" and graph.nodes[0].items == (1, 2, 3)
    assert run_graph(graph) == [["add", 1], ["add", 2], ["add", 3]]
    star = compile_workflow(sig("add").starmap(zip(range(100), range(100), strict=True)))
    assert len(star.nodes) == 1 and star.nodes[0].kind == "starmap" and len(star.nodes[0].items or ()) == 100


def test_chunks_are_a_group_of_starmaps() -> None:
    graph = check_runs(sig("add").chunks(zip(range(100), range(100), strict=True), 10))
    assert len(graph.nodes) == 10 and {n.kind for n in graph.nodes} == {"starmap"}
    result = run_graph(graph)
    assert len(result) == 10 and all(len(part) == 10 for part in result)
    assert result[9][9] == ["add", 99, 99]


def test_map_without_items_takes_previous_result() -> None:
    graph = check_runs(sig("range3") | sig("add", 10).map())
    assert shape(graph)[1] == ("add", (0,), Ref(0))
    assert run_graph(graph) == [["add", item, 10] for item in ["range3"]]


def test_map_with_items_ignores_previous_result() -> None:
    graph = check_runs(sig("a") | sig("add").map([1]))
    assert shape(graph)[1] == ("add", (0,), None)


def test_map_without_items_needs_a_previous_step() -> None:
    with pytest.raises(WorkflowError, match="no items"):
        compile_workflow(sig("add").map())
    with pytest.raises(WorkflowError, match="no items"):
        compile_workflow(sig("a") | sig("add").map().set(immutable=True))


def test_options_reach_nodes() -> None:
    graph = compile_workflow(sig("a").set(queue="fast", timeout=3, max_tries=2) | sig("b"))
    assert graph.nodes[0].options.to_dict() == {"queue": "fast", "timeout": 3, "max_tries": 2}
    assert graph.nodes[1].options.to_dict() == {}


def test_errback_nearest_wins_and_workflow_level() -> None:
    outer, inner, own, whole = sig("outer"), sig("inner"), sig("own"), sig("whole")
    middle = group(sig("b").on_error(own), sig("c")).on_error(inner)
    element = chain(sig("a"), middle, sig("d")).on_error(outer)
    graph = compile_workflow(element, on_error=whole)
    assert [n.on_error for n in graph.nodes] == [outer, own, inner, outer]
    assert graph.on_error == whole
    assert compile_workflow(sig("a")).nodes[0].on_error is None


def test_compile_rejects_non_elements() -> None:
    with pytest.raises(WorkflowError, match="canvas element"):
        compile_workflow([sig("a")])  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match="workflow on_error handler"):
        compile_workflow(sig("a"), on_error=group())  # type: ignore[arg-type]


def test_dependents_are_inverse_of_parents() -> None:
    graph = compile_workflow(sig("a") | group(sig("b"), sig("c")) | chord([sig("d")], sig("e")))
    for node in graph.nodes:
        assert all(node.id in graph.nodes[p].dependents for p in node.parents)
        assert all(node.id in graph.nodes[d].parents for d in node.dependents)
        assert all(p < node.id for p in node.parents)
