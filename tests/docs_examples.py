"""Reading the docs' examples: fenced blocks in the pages, example files, console transcripts.

The pages (``docs/*.md``) include their code from ``docs/examples/`` with ``pymdownx.snippets``
(``--8<-- "file.py:section"``). ``tests/test_docs.py`` runs every example file; this module finds them
and reads what they say. A transcript (``*.console``) is a list of ``$ command`` lines, each followed by
what it prints; ``...`` in the printed text matches anything (on a line of its own: any lines).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT

DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
#: Fence languages that hold code a reader would run or copy: each such block is checked.
CODE_LANGUAGES = frozenset({"python", "py", "pycon", "console", "sh", "bash", "shell", "conf"})
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<file>[^":]+)(?::(?P<section>[\w-]+))?"\s*$')
UNCHECKED = re.compile(r"^\s*<!--\s*unchecked:\s*(?P<reason>\S.*?)\s*-->\s*$")
SECTION_MARK = re.compile(r"--8<--\s*\[(start|end):[\w-]+\]")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: where it is, its language, its lines, and why it is not run."""

    page: Path
    line: int
    lang: str
    body: tuple[str, ...]
    unchecked: str | None

    def where(self) -> str:
        """Return ``docs/page.md:LINE``."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def includes(self) -> list[tuple[str, str | None]]:
        """Return the (file, section) includes of the block, or [] if it holds anything else."""
        lines = [line for line in self.body if line.strip()]
        found = [INCLUDE.match(line) for line in lines]
        if not lines or not all(found):
            return []
        return [(m["file"], m["section"]) for m in found if m]


def pages() -> list[Path]:
    """Return every markdown page of the site."""
    return sorted(DOCS.rglob("*.md"))


def blocks(page: Path) -> Iterator[Block]:
    """Yield the fenced blocks of ``page``, with the ``<!-- unchecked: … -->`` note before each."""
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = _closing(lines, index + 1, opening["indent"], opening["fence"])
        yield Block(
            page,
            index + 1,
            opening["lang"].lower(),
            tuple(line[len(opening["indent"]) :] for line in lines[index + 1 : end]),
            _note_before(lines, index),
        )
        index = end + 1


def _closing(lines: list[str], start: int, indent: str, fence: str) -> int:
    for index in range(start, len(lines)):
        if lines[index].startswith(indent + fence[0] * len(fence)) and not lines[index].strip(fence[0] + " "):
            return index
    raise AssertionError(f"unclosed fence opened before line {start}")


def _note_before(lines: list[str], index: int) -> str | None:
    before = index - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    found = UNCHECKED.match(lines[before]) if before >= 0 else None
    return found["reason"] if found else None


def example_files(suffix: str) -> list[Path]:
    """Return the example files ending in ``suffix`` (``.py``, ``.console``, ``.conf``)."""
    return sorted(EXAMPLES.glob(f"*{suffix}"))


def section_names(path: Path) -> set[str]:
    """Return the snippet sections ``path`` defines (``# --8<-- [start:name]``)."""
    return set(re.findall(r"--8<--\s*\[start:([\w-]+)\]", path.read_text()))


@dataclass
class Step:
    """One command of a transcript and the lines it prints (a background command's are not read)."""

    command: str
    expected: list[str] = field(default_factory=list)

    @property
    def background(self) -> bool:
        """Return whether the command ends with ``&`` (it runs on while the next ones run)."""
        return self.command.rstrip().endswith("&")


def transcript(path: Path) -> list[Step]:
    """Read a ``.console`` file into steps; snippet section markers are skipped."""
    steps: list[Step] = []
    for line in path.read_text().splitlines():
        if SECTION_MARK.search(line):
            continue
        if line.startswith("$ "):
            steps.append(Step(line[2:]))
        elif steps:
            steps[-1].expected.append(line)
        elif line.strip():
            raise AssertionError(f"{path.name}: output before the first command: {line!r}")
    for step in steps:
        while step.expected and not step.expected[-1].strip():
            step.expected.pop()
    return steps


_VOLATILE = [
    (re.compile(r"\b[0-9a-f]{32}\b"), "<job id>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "<date>"),
    (re.compile(r"\d{2}:\d{2}:\d{2}(\.\d+)?"), "<time>"),
    (re.compile(r"[+-]\d{2}:\d{2}\b"), "<offset>"),
]


def normalise(line: str) -> str:
    """Mask job ids, dates, times and UTC offsets, and collapse runs of spaces (column widths vary)."""
    for pattern, mask in _VOLATILE:
        line = pattern.sub(mask, line)
    return re.sub(r"\s+", " ", line).strip()


def matches(expected: list[str], actual: list[str]) -> bool:
    """Return whether ``actual`` lines match ``expected``: ``...`` is a wildcard (alone: any lines)."""
    if not expected:
        return not actual
    head, rest = normalise(expected[0]), expected[1:]
    if head == "...":
        return any(matches(rest, actual[skip:]) for skip in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*".join(re.escape(part) for part in head.split("..."))
    return re.fullmatch(pattern, normalise(actual[0])) is not None and matches(rest, actual[1:])
