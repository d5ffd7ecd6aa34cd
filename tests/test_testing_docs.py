"""docs/testing.md shows code that runs: its tests are examples/test_user_tasks.py's, the rest runs here."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

from tests.conftest import ROOT

DOC = ROOT / "docs" / "testing.md"
EXAMPLE = ROOT / "examples" / "test_user_tasks.py"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)

#: Runs each block given on stdin (separated by NUL), then calls the test coroutines it defines.
RUNNER = """
import asyncio, inspect, sys
for block in sys.stdin.read().split("\\0"):
    namespace = {}
    exec(compile(block, "docs/testing.md", "exec"), namespace)
    for name, value in namespace.items():
        if name.startswith("test_") and inspect.iscoroutinefunction(value):
            asyncio.run(value())
            print("ran", name)
print("done")
"""


def functions(block: str) -> list[str]:
    tree = ast.parse(block)
    defs = (ast.FunctionDef, ast.AsyncFunctionDef)
    return [ast.get_source_segment(block, node) or "" for node in tree.body if isinstance(node, defs)]


def split_blocks() -> tuple[list[str], list[str]]:
    """Return the blocks copied from the example file, and the others."""
    example = EXAMPLE.read_text()
    copied, others = [], []
    for block in BLOCK.findall(DOC.read_text()):
        found = functions(block)
        (copied if found and all(f in example for f in found) else others).append(block)
    return copied, others


def test_the_docs_tests_are_the_example_file_tests() -> None:
    copied, others = split_blocks()
    assert len(copied) >= 4  # fixture override, eager, drain, cron
    shown = [f for block in copied for f in functions(block)]
    assert any("aqueue_eager" in f for f in shown) and any("run_cron" in f for f in shown)
    # a block that shows a fixture-using test but is not in the example file has drifted from it
    assert [b for b in others if "(aqueue_" in b] == []


def test_the_other_snippets_run() -> None:
    _, others = split_blocks()
    assert len(others) == 2
    done = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input="\0".join(others),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ran test_charge" in done.stdout and "done" in done.stdout
