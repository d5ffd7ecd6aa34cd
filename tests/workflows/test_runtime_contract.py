"""The canvas contract on real workers and a real Redis: every form returns what Celery would.

Each task records every call under ``wft:calls:{task}`` (the job id), so these tests also count
jobs (distinct ids) against calls: a map is one job that calls its function once per item.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from aqueue import Client
from aqueue.workflows import CanvasElement, Dag, chain, chord, group, si, sig
from tests.wf_tasks import ALL, add, calls

pytestmark = pytest.mark.timeout(60)

HTML_A = len("<html>a</html>")


async def run(client: Client, workflow: CanvasElement, timeout: float = 20) -> Any:
    handle = await client.run(workflow)
    return await handle.result(timeout=timeout)


CONTRACT: list[tuple[str, CanvasElement, Any, dict[str, tuple[int, int]]]] = [
    # (id, canvas, Celery's result, {task: (jobs, calls)})
    ("sig", sig("add", 1, 2), 3, {"add": (1, 1)}),
    (
        "chain",
        chain(sig("fetch", "a"), sig("parse"), sig("store", "d")),
        f"stored {HTML_A} in d",
        {"fetch": (1, 1), "parse": (1, 1), "store": (1, 1)},
    ),
    (
        "pipe",
        sig("fetch", "a") | sig("parse") | sig("store", "d"),
        f"stored {HTML_A} in d",
        {"fetch": (1, 1), "parse": (1, 1), "store": (1, 1)},
    ),
    ("group", group(sig("add", i, i) for i in range(12)), [i + i for i in range(12)], {"add": (12, 12)}),
    (
        "chord",
        chord([sig("add", i, i) for i in range(10)], sig("xsum", [20])),
        sum(i + i for i in range(10)) + 20,
        {"add": (10, 10), "xsum": (1, 1)},
    ),
    ("map", sig("add", 10).map([1, 2, 3]), [11, 12, 13], {"add": (1, 3)}),
    ("map-xsum", sig("xsum").map([list(range(10)), list(range(100))]), [45, 4950], {"xsum": (1, 2)}),
    (
        "starmap",
        sig("add").starmap(zip(range(100), range(100), strict=True)),
        [i + i for i in range(100)],
        {"add": (1, 100)},
    ),
    (
        "chunks",
        sig("add").chunks(zip(range(100), range(100), strict=True), 10),
        [[i + i for i in range(start, start + 10)] for start in range(0, 100, 10)],
        {"add": (10, 100)},
    ),
    ("task-si", sig("add", 1, 1) | add.si(1, 2), 3, {"add": (2, 2)}),
    ("name-si", sig("add", 1, 1) | si("add", 5, 5), 10, {"add": (2, 2)}),
    ("mutable-step", sig("add", 1, 1) | sig("add", 5), 7, {"add": (2, 2)}),
    ("task-s", add.s(1, 1) | add.s(5), 7, {"add": (2, 2)}),
    (
        "group-after-step",
        sig("echo", "root") | group(sig("echo", "a"), sig("echo", "b")),
        [[["root"], "a"], [["root"], "b"]],
        {"echo": (3, 3)},
    ),
    (
        "chord-after-step",
        sig("add", 1, 1) | chord([sig("add", 10), sig("add", 20)], sig("xsum", [100])),
        12 + 22 + 100,
        {"add": (3, 3), "xsum": (1, 1)},
    ),
    ("map-after-step", sig("echo", 1, 2, 3) | sig("inc").map(), [2, 3, 4], {"echo": (1, 1), "inc": (1, 3)}),
    (
        "starmap-after-step",
        sig("echo", [1, 2], [3, 4]) | sig("add").starmap(),
        [3, 7],
        {"echo": (1, 1), "add": (1, 2)},
    ),
    (
        "map-with-items-ignores-input",
        sig("add", 1, 1) | sig("inc").map([10, 20]),
        [11, 21],
        {"add": (1, 1), "inc": (1, 2)},
    ),
    ("kwargs", sig("echo", "k", x=1) | sig("echo", y=2), [["k", {"x": 1}], {"y": 2}], {"echo": (2, 2)}),
]


@pytest.mark.parametrize(
    ("workflow", "expected", "jobs"), [c[1:] for c in CONTRACT], ids=[c[0] for c in CONTRACT]
)
async def test_contract(
    client: Client, run_worker: Any, workflow: CanvasElement, expected: Any, jobs: dict[str, tuple[int, int]]
) -> None:
    async with run_worker(ALL, max_jobs=20):
        assert await run(client, workflow) == expected
    for name, (n_jobs, n_calls) in jobs.items():
        ids = await calls(client, name)
        assert (len(set(ids)), len(ids)) == (n_jobs, n_calls), name


def _diamond() -> CanvasElement:
    dag = Dag()
    a = dag.add(sig("echo", "a"))
    b = dag.add(sig("echo", "b"), after=a)
    c = dag.add(sig("echo", "c"), after=a)
    dag.add(sig("echo", "d"), after=[b, c])
    return dag.build()


def _dag_with_groups() -> CanvasElement:
    dag = Dag()
    a = dag.add(sig("add", 1, 1))
    b = dag.add(group(sig("add", 1), sig("add", 2)), after=a)  # [3, 4]
    c = dag.add(sig("inc"), after=a)  # 3
    d = dag.add(sig("xsum"), after=b)  # 7
    return dag.build(output=[c, d, b])


NESTING: list[tuple[str, CanvasElement, Any]] = [
    (
        "chain-of-groups",
        chain(group(sig("add", 1, 1), sig("add", 2, 2)), sig("xsum"), group(sig("add", 1), sig("add", 2))),
        [7, 8],
    ),
    (
        "group-then-group",
        group(sig("echo", "a"), sig("echo", "b")) | group(sig("echo", "c"), sig("echo", "d")),
        [[[["a"], ["b"]], "c"], [[["a"], ["b"]], "d"]],
    ),
    (
        "group-of-chains",
        group(sig("add", 1, 1) | sig("inc"), sig("fetch", "a") | sig("parse"), sig("add", 5, 5)),
        [3, HTML_A, 10],
    ),
    (
        "chord-in-chain",
        sig("add", 1, 1) | chord([sig("add", 1), sig("add", 2)], sig("xsum")) | sig("inc"),
        8,
    ),
    (
        "chord-header-of-chains-and-chords",
        chord(
            [
                sig("add", 1, 1) | sig("inc"),
                chord([sig("add", 1, 1), sig("add", 2, 2)], sig("xsum")),
                sig("add", 0, 0) | chord([sig("add", 1), sig("add", 2)], sig("xsum")),
            ],
            sig("xsum"),
        ),
        3 + 6 + 3,
    ),
    ("group-in-group", group(group(sig("add", 1, 1), sig("add", 2, 2)), sig("add", 3, 3)), [[2, 4], 6]),
    ("deep-group", group(group(group(sig("add", 1, 1)), group()), group()), [[[2], []], []]),
    ("empty-group", group(), []),
    ("empty-group-in-chain", sig("add", 1, 1) | group() | sig("echo"), [[]]),
    ("chord-of-nothing", chord([], sig("xsum", [5])), 5),
    ("empty-group-first", group() | sig("echo", "x"), [[], "x"]),
    ("diamond", _diamond(), [[[["a"], "b"], [["a"], "c"]], "d"]),
    ("dag-with-groups", _dag_with_groups(), [3, 7, [3, 4]]),
    ("chain-after-dag", _diamond() | sig("echo", "e"), [[[[["a"], "b"], [["a"], "c"]], "d"], "e"]),
]


@pytest.mark.parametrize(("workflow", "expected"), [c[1:] for c in NESTING], ids=[c[0] for c in NESTING])
async def test_nesting(client: Client, run_worker: Any, workflow: CanvasElement, expected: Any) -> None:
    async with run_worker(ALL, max_jobs=20):
        assert await run(client, workflow) == expected


async def test_diamond_runs_each_node_once_in_order(client: Client, run_worker: Any) -> None:
    dag = Dag()
    a = dag.add(sig("tag", "a"))
    b = dag.add(si("tag", "b"), after=a)
    c = dag.add(si("tag", "c"), after=a)
    dag.add(sig("join", "d"), after=[b, c])
    async with run_worker(ALL, max_jobs=20):
        assert await run(client, dag.build()) == ["d", ["b", "c"]]
    ran = [x.decode() for x in await client.redis.lrange("wft:ran", 0, -1)]  # type: ignore[misc]
    assert Counter(ran) == Counter("abcd")
    assert ran[0] == "a" and ran[-1] == "d"


async def test_many_runs_in_parallel_do_not_mix(client: Client, run_worker: Any) -> None:
    """Forty runs of one chord at once, each with its own numbers: each gets its own result."""
    async with run_worker(ALL, max_jobs=50):
        handles = [
            await client.run(chord([sig("add", n, i) for i in range(5)], sig("xsum"))) for n in range(40)
        ]
        results = [await h.result(timeout=20) for h in handles]
    assert results == [sum(n + i for i in range(5)) for n in range(40)]
    assert len(set(await calls(client, "xsum"))) == 40


async def test_enqueue_method_and_explicit_run_id(client: Client, run_worker: Any) -> None:
    async with run_worker(ALL, max_jobs=5):
        handle = await (sig("add", 2, 3) | sig("inc")).enqueue(client, run_id="my-run-1")
        assert handle.run_id == "my-run-1"
        assert await handle.result(timeout=10) == 6
    assert sorted(await calls(client, "add")) == ["my-run-1:0"]


async def test_queue_option_routes_nodes(client: Client, run_worker: Any) -> None:
    """Nodes with ``.set(queue=...)`` run on that queue's worker, roots and released nodes alike."""
    workflow = group(
        sig("add", 1, 1).set(queue="q2") | sig("inc") | sig("inc").set(queue="q2"),
        sig("add", 2, 2) | sig("inc").set(queue="q2") | sig("inc"),
    )
    async with run_worker(ALL, max_jobs=10) as default, run_worker(ALL, max_jobs=10, queue_name="q2") as q2:
        assert await run(client, workflow) == [4, 6]
    assert (default.jobs_complete, q2.jobs_complete) == (3, 3)


async def test_timeout_option_fails_the_node(client: Client, run_worker: Any) -> None:
    async with run_worker(ALL, max_jobs=10):
        handle = await client.run(sig("add", 1, 1) | si("pause", "t", 5).set(timeout=0.2))
        with pytest.raises(TimeoutError) as caught:
            await handle.result(timeout=10)
    assert str(caught.value).startswith("pause timed out after 0.2s")


async def test_rich_values_pass_between_steps(client: Client, run_worker: Any) -> None:
    value = [b"\x00raw", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), (1, 2), {"k": {1, 2}}, None, ""]
    async with run_worker(ALL, max_jobs=10):
        assert await run(client, sig("echo", *value) | sig("echo", "next")) == [value, "next"]
        assert await run(client, group(sig("echo", *value), sig("echo"))) == [value, []]
