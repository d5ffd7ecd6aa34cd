"""Leave out of a composed script the library functions it never calls.

Redis runs a script's whole text on every call, so each ``local function`` of the libraries placed
before it costs a closure (and its upvalues, and their garbage) per call, used or not: with every
library and extension composed in, that was most of a small claim's or finish's Redis CPU.
:func:`shaken` keeps a library function only if the script's own code, or a function kept, names it.

The libraries follow one layout, which this relies on: a function is defined at the start of a line
(``local function name(`` or, for the hook dispatchers, ``name = function(``) and ends at the next line
that is ``end`` at the start of a line. Everything else in them (constants, state, forward
declarations) is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["shaken"]

_DEFINITION = re.compile(r"^(?:local function ([A-Za-z_]\w*)\s*\(|([A-Za-z_]\w*) = function\s*\()")
_NAME = re.compile(r"[A-Za-z_]\w*")


def shaken(library: str, script: str) -> str:
    """Return ``library`` without the functions that ``script`` (the code after it) never reaches."""
    items = list(_items(library))
    bodies = {name: text for name, text in items if name is not None}
    wanted = _names(script)
    for name, text in items:
        if name is None:
            wanted |= _names(_declared_from(text))
    reached: set[str] = set()
    todo = [name for name in wanted if name in bodies]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(n for n in _names(bodies[name]) if n in bodies and n not in reached)
    return "\n".join(text for name, text in items if name is None or name in reached)


def _items(library: str) -> Iterator[tuple[str | None, str]]:
    """Split a library into (function name, its text) and (None, anything else), in order."""
    lines = library.split("\n")
    i = 0
    while i < len(lines):
        match = _DEFINITION.match(lines[i])
        if match is None:
            yield None, lines[i]
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != "end":
            end += 1
        yield match.group(1) or match.group(2), "\n".join(lines[i : end + 1])
        i = end + 1


def _declared_from(line: str) -> str:
    """Return what a library line uses: a ``local`` declaration's names are no use, its values are."""
    if not line.startswith("local "):
        return line
    _, equals, values = _uncommented(line).partition("=")
    return values if equals else ""


def _names(code: str) -> set[str]:
    """Return the identifiers ``code`` uses outside comments (inside strings too: keeping more is safe)."""
    return {name for line in code.split("\n") for name in _NAME.findall(_uncommented(line))}


def _uncommented(line: str) -> str:
    """Return ``line`` up to its ``--`` comment, if any (a ``--`` inside a quoted string is no comment)."""
    quote = ""
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif line.startswith("--", i):
            return line[:i]
        i += 1
    return line
