"""The architecture as a test: the core imports no layer, no module imports another in a cycle, and
imports sit at the top of modules (ruff's PLC0415 checks the last; this checks the graph)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import aqueue

PACKAGE = Path(aqueue.__file__).parent
LAYERS = ("aqueue.workflows", "aqueue.scheduler", "aqueue.limits")
#: Modules that compose the layers with the core: the package root (public names), the composition
#: root that plugs the layers into every worker, the CLI that mounts their command groups, and the
#: test helpers for users (``aqueue.testing``: eager mode catches workflow starts, run_cron drives cron),
#: and the dashboard (``aqueue.dashboard``: it shows cron jobs and workflow runs beside the core's queues).
COMPOSITION = {
    "aqueue",
    "aqueue._layers",
    "aqueue.cli",
    "aqueue.settings",
    "aqueue.testing",
    "aqueue.dashboard",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def runtime_imports(path: Path, known: set[str]) -> Iterator[str]:
    """Yield the aqueue modules ``path`` imports at run time (``if TYPE_CHECKING:`` blocks excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in _runtime_nodes(tree.body):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for imported in names:
            target = imported
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("aqueue"):
                yield target


def _runtime_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    for statement in body:
        if isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test):
            continue
        yield from ast.walk(statement)


def graph() -> dict[str, set[str]]:
    """Return module → the modules importing it runs, including the ``__init__`` of each package the
    target lives in (importing ``a.b.c`` from outside ``a.b`` runs ``a/b/__init__`` first)."""
    known = set(modules())
    edges: dict[str, set[str]] = {}
    for name, path in modules().items():
        targets = set(runtime_imports(path, known))
        for target in list(targets):
            parent = target.rpartition(".")[0]
            while parent and parent != "aqueue":
                if not name.startswith(parent + "."):
                    targets.add(parent)
                parent = parent.rpartition(".")[0]
        edges[name] = targets - {name}
    return edges


def reachable(edges: dict[str, set[str]], start: str, *, through_composition: bool) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in edges[todo.pop()]:
            if target in seen or (not through_composition and target in COMPOSITION):
                continue
            seen.add(target)
            todo.append(target)
    return seen


def is_layer(name: str) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in LAYERS)


def test_the_core_imports_no_layer() -> None:
    """Client, Worker, job execution and the Redis layer reach neither workflows nor cron.

    The package root is imported first by any ``import aqueue.x`` and plugs the layers in; it is the
    composition root, so the walk does not go through it.
    """
    edges = graph()
    core = [
        n
        for n in edges
        if not is_layer(n)
        and n not in COMPOSITION
        and not n.startswith(("aqueue.cli.", "aqueue.testing.", "aqueue.dashboard."))
    ]
    assert {"aqueue.client", "aqueue.worker", "aqueue._worker.execution", "aqueue._redis.scripts"} <= set(
        core
    )
    leaks = {n: sorted(filter(is_layer, reachable(edges, n, through_composition=False))) for n in core}
    assert {n: layers for n, layers in leaks.items() if layers} == {}


def test_no_import_cycles() -> None:
    edges = graph()
    cycles = []
    for name in edges:
        for target in edges[name]:
            if target == "aqueue" or name.startswith(target + "."):
                continue  # a package's own __init__ runs first; not a cycle between modules
            if name in reachable_without_packages(edges, target):
                cycles.append(f"{name} -> {target}")
    assert cycles == []


def reachable_without_packages(edges: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        for target in edges[current]:
            if target == "aqueue" or current.startswith(target + ".") or target in seen:
                continue
            seen.add(target)
            todo.append(target)
    return seen
