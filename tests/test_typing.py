"""Types end to end: mypy --strict and pyright pass a typed user file and report a wrong one where marked.

``tests/typing/good.py`` and the README's "Typed tasks" example must give no diagnostic at all; every
line of ``tests/typing/bad.py`` marked ``# mypy: CODE | pyright: RULE`` must give exactly those codes,
and no other line any. The checkers run
offline (pyright from the ``pyright[nodejs]`` wheel: its own node, no download, no version check).
Also here: every enqueue option has its overload, so a new option cannot be left untyped.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aqueue
from aqueue import Client, Task

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "typing"
GOOD = CASES / "good.py"
BAD = CASES / "bad.py"
README_BLOCK = re.compile(r"^## Typed tasks$.*?^```python\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
MARK = re.compile(r"#\s*mypy:\s*(?P<mypy>[\w,-]+)\s*\|\s*pyright:\s*(?P<pyright>[\w,]+)\s*$")
MYPY_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[\w-]+)\]$")
CHECK_TIMEOUT_S = 300

Findings = dict[str, set[tuple[int, str]]]


def marked(path: Path, checker: str) -> set[tuple[int, str]]:
    """Return the (line, code) pairs ``path``'s marks expect from ``checker``."""
    expected = set()
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        match = MARK.search(text)
        if match:
            expected |= {(number, code) for code in match[checker].split(",")}
    return expected


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"}  # no look-up of pyright's latest version
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, check=False
    )


def by_file(pairs: list[tuple[str, int, str]], files: list[Path]) -> Findings:
    found: Findings = {path.name: set() for path in files}
    for path, line, code in pairs:
        found.setdefault(Path(path).name, set()).add((line, code))
    return found


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Return the files to check: good, bad, and the README's example written to a file."""
    match = README_BLOCK.search((ROOT / "README.md").read_text())
    assert match, "README.md has no python block under '## Typed tasks'"
    readme = tmp_path_factory.mktemp("readme") / "readme_typed_tasks.py"
    readme.write_text(match["code"])
    return [GOOD, BAD, readme]


@pytest.fixture(scope="module")
def mypy_findings(files: list[Path]) -> Findings:
    """Run mypy --strict once on the files; return each file's (line, error code) pairs."""
    done = run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--no-pretty", *map(str, files)]
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2: mypy itself failed
    pairs = []
    for text in done.stdout.splitlines():
        match = MYPY_LINE.match(text)
        if match:
            pairs.append((match["path"], int(match["line"]), match["code"]))
        else:
            assert ": note: " in text, f"unparsed mypy output: {text!r}"
    return by_file(pairs, files)


@pytest.fixture(scope="module")
def pyright_findings(files: list[Path]) -> Findings:
    """Run pyright (strict, see tests/typing/pyrightconfig.json) once on the files; same shape."""
    done = run(
        [
            sys.executable,
            "-m",
            "pyright",
            "--outputjson",
            "--pythonpath",
            sys.executable,
            "--project",
            str(CASES / "pyrightconfig.json"),
            *map(str, files),
        ]
    )
    assert done.returncode in (0, 1), f"pyright did not run (pip install -e '.[dev]'): {done.stderr}"
    report = json.loads(done.stdout)
    assert report["summary"]["filesAnalyzed"] == len(files)
    pairs = [
        (d["file"], d["range"]["start"]["line"] + 1, d.get("rule", d["message"]))
        for d in report["generalDiagnostics"]
        if d["severity"] in ("error", "warning")
    ]
    return by_file(pairs, files)


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_the_typed_file_and_the_readme_pass(checker: str, request: pytest.FixtureRequest) -> None:
    findings: Findings = request.getfixturevalue(f"{checker}_findings")
    assert findings[GOOD.name] == set()
    assert findings["readme_typed_tasks.py"] == set()


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_the_wrong_file_fails_at_the_marked_lines(checker: str, request: pytest.FixtureRequest) -> None:
    findings: Findings = request.getfixturevalue(f"{checker}_findings")
    expected = marked(BAD, checker)
    assert len({line for line, _ in expected}) == BAD.read_text().count("# mypy:")  # every mark was read
    found = findings[BAD.name]
    assert {"missing": sorted(expected - found), "unexpected": sorted(found - expected)} == {
        "missing": [],
        "unexpected": [],
    }
    assert set(findings) == {GOOD.name, BAD.name, "readme_typed_tasks.py"}  # nothing in aqueue itself


def required_options(overloads: list[Callable[..., Any]]) -> set[str]:
    """Return the options some overload requires: how a call that passes that option is typed."""
    return {
        p.name
        for overload in overloads
        for p in inspect.signature(overload).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name.startswith("_")
    }


def test_every_enqueue_option_has_its_overload() -> None:
    options = {
        p.name
        for p in inspect.signature(Client.enqueue).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name.startswith("_")
    }
    assert "_job_id" in options and "_defer_by" in options
    for function in (Client.enqueue, aqueue.enqueue, Task.enqueue):
        assert required_options(typing.get_overloads(function)) == options, function.__qualname__
