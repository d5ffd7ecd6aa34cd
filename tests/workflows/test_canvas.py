"""Building canvas elements: constructors, ``|``, options, maps, chunks, validation."""

from __future__ import annotations

from typing import Any

import pytest

from aqueue.errors import WorkflowError
from aqueue.workflows import Chain, Chord, Group, Signature, TaskOptions, chain, chord, group, si, sig


def test_sig_holds_name_args_kwargs() -> None:
    s = sig("add", 1, 2, x=3)
    assert (s.task, s.args, dict(s.kwargs)) == ("add", (1, 2), {"x": 3})
    assert not s.immutable and s.kind == "task" and s.items is None
    assert s.options == TaskOptions()
    assert repr(s) == "sig('add', 1, 2, x=3)"


def test_sig_name_is_positional_only_so_task_can_be_a_kwarg() -> None:
    assert dict(sig("send", task="t").kwargs) == {"task": "t"}


def test_si_and_set_immutable() -> None:
    assert si("add", 1).immutable
    assert sig("add", 1).set(immutable=True) == si("add", 1)
    assert not si("add").set(immutable=False).immutable
    assert repr(si("add", 1)) == "si('add', 1)"


def test_kwargs_are_read_only() -> None:
    s = sig("add", x=1)
    with pytest.raises(TypeError):
        s.kwargs["x"] = 2  # type: ignore[index]


@pytest.mark.parametrize("bad", ["", 3, None])
def test_bad_task_name(bad: object) -> None:
    with pytest.raises(WorkflowError, match="task name"):
        sig(bad)  # type: ignore[arg-type]


def test_set_options() -> None:
    s = sig("add", 1).set(queue="fast", timeout=2.5, max_tries=3)
    assert s.options == TaskOptions(queue="fast", timeout=2.5, max_tries=3)
    assert s.set(queue="slow").options.timeout == 2.5
    assert sig("add", 1).set(queue="fast").args == (1,)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"queue": ""}, "queue"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"max_tries": 0}, "max_tries"),
        ({"max_tries": 1.5}, "max_tries"),
        ({"job_id": "x"}, "unknown signature option"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        sig("add").set(**options)


def test_pipe_builds_flat_chain() -> None:
    a, b, c = sig("fetch", "a"), sig("parse"), sig("store", "d")
    assert a | b | c == chain(a, b, c) == Chain((a, b, c))
    assert chain([a, b, c]) == chain(x for x in (a, b, c)) == chain(a, chain(b, c))


def test_pipe_between_any_elements() -> None:
    g, c = group(sig("a"), sig("b")), chord([sig("a")], sig("b"))
    assert (sig("x") | g).steps == (sig("x"), g)
    assert (g | sig("x")).steps == (g, sig("x"))
    assert (chain(sig("x"), sig("y")) | c).steps == (sig("x"), sig("y"), c)
    assert (c | g).steps == (c, g)


def test_chain_with_errback_is_not_flattened() -> None:
    inner = chain(sig("a"), sig("b")).on_error(sig("cleanup"))
    assert (sig("x") | inner).steps == (sig("x"), inner)


def test_pipe_with_non_element_is_type_error() -> None:
    with pytest.raises(TypeError):
        _ = sig("a") | 3


def test_empty_chain_is_an_error() -> None:
    with pytest.raises(WorkflowError, match="at least one step"):
        chain()
    with pytest.raises(WorkflowError, match="at least one step"):
        chain([])


def test_group_from_args_list_or_generator() -> None:
    members = tuple(sig("add", i, i) for i in range(12))
    assert group(*members) == group(list(members)) == Group(members)
    produced = group(sig("add", i, i) for i in range(12))
    assert produced.members == members  # the generator is read at construction


def test_group_names_offending_item() -> None:
    with pytest.raises(WorkflowError, match=r"group item 1 is not a canvas element: 'oops' \(str\)"):
        group([sig("a"), "oops"])
    with pytest.raises(WorkflowError, match=r"not 5 \(int\)"):
        group(5)


def test_chain_names_offending_item() -> None:
    with pytest.raises(WorkflowError, match=r"chain item 2 is not a canvas element: None"):
        chain(sig("a"), sig("b"), None)


def test_chord_from_list_or_group() -> None:
    header = [sig("add", i, i) for i in range(10)]
    c = chord(header, sig("add", [20]))
    assert c == Chord(Group(tuple(header)), sig("add", [20]))
    assert chord(group(header), sig("add", [20])) == c
    with pytest.raises(WorkflowError, match="chord body"):
        chord(header, "body")  # type: ignore[arg-type]


def test_map_and_starmap() -> None:
    m = sig("add").map([1, 2, 3])
    assert (m.kind, m.items) == ("map", (1, 2, 3))
    sm = sig("add").starmap(zip(range(3), range(3), strict=True))
    assert (sm.kind, sm.items) == ("starmap", ((0, 0), (1, 1), (2, 2)))
    assert sig("add").map().items is None
    assert repr(m) == "sig('add').map([1, 2, 3])"


def test_map_of_map_and_bad_starmap_items() -> None:
    with pytest.raises(WorkflowError, match="already a map"):
        sig("add").map([1]).map([2])
    with pytest.raises(WorkflowError, match="starmap item 1"):
        sig("add").starmap([(1, 2), 3])  # type: ignore[list-item]
    with pytest.raises(WorkflowError, match="only a map or starmap"):
        Signature("add", items=(1,))


def test_chunks() -> None:
    g = sig("add").set(queue="q").chunks(zip(range(100), range(100), strict=True), 10)
    assert isinstance(g, Group) and len(g.members) == 10
    assert all(isinstance(m, Signature) and m.kind == "starmap" for m in g.members)
    assert g.members[3] == sig("add").set(queue="q").starmap((i, i) for i in range(30, 40))
    uneven = sig("add").chunks([(i,) for i in range(7)], 3)
    assert [len(m.items or ()) for m in uneven.members] == [3, 3, 1]  # type: ignore[attr-defined]
    assert sig("add").chunks([], 3) == Group(())


@pytest.mark.parametrize("size", [0, -1, True, 2.0, "3"])
def test_chunk_size_must_be_positive_int(size: object) -> None:
    with pytest.raises(WorkflowError, match="chunk size"):
        sig("add").chunks([(1, 2)], size)  # type: ignore[arg-type]


def test_on_error_takes_a_signature() -> None:
    handler = sig("cleanup")
    assert sig("a").on_error(handler).errback == handler
    assert group(sig("a")).on_error(handler).errback == handler
    with pytest.raises(WorkflowError, match="on_error handler must be a signature"):
        sig("a").on_error(group(sig("b")))  # type: ignore[arg-type]


def test_elements_are_frozen() -> None:
    with pytest.raises(AttributeError):
        sig("a").task = "b"  # type: ignore[misc]


def test_reprs_read_like_the_canvas() -> None:
    element = sig("a") | group(sig("b"), si("c").on_error(sig("x"))) | chord([sig("d")], sig("e"))
    assert repr(element) == (
        "chain(sig('a'), group(sig('b'), si('c').on_error(sig('x'))), chord([sig('d')], sig('e')))"
    )
    assert repr(chord(group(sig("d")).on_error(sig("h")), sig("e"))) == (
        "chord(group(sig('d')).on_error(sig('h')), sig('e'))"
    )
