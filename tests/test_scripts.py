"""Every Lua script has one typed wrapper, and the two agree: the ``.lua`` header names the wrapper's
arguments, the Lua reads exactly as many ARGV as the wrapper sends, and ``argv()`` sends the fields in
the order they are declared (repeated records last, field by field)."""

from __future__ import annotations

import re
import typing
from collections.abc import Sequence
from importlib import resources
from typing import Any, NamedTuple

import pytest

import aqueue._redis.core
import aqueue.scheduler._scripts
import aqueue.workflows._scripts
from aqueue._redis.scripts import Script

PACKAGES = ("aqueue._redis.lua", "aqueue.workflows._lua", "aqueue.scheduler._lua")
WRAPPER_MODULES = (aqueue._redis.core, aqueue.workflows._scripts, aqueue.scheduler._scripts)


def _concrete(kind: type) -> list[type[Script[Any, Any]]]:
    found = []
    for sub in kind.__subclasses__():
        if "name" in vars(sub):
            found.append(sub)
        found += _concrete(sub)
    return found


WRAPPERS = {(w.package, w.name): w for w in _concrete(Script)}


def _is_library(name: str) -> bool:
    return name == "lib" or name.endswith("_lib")


def _script_files() -> list[tuple[str, str]]:
    return sorted(
        (package, entry.name.removesuffix(".lua"))
        for package in PACKAGES
        for entry in resources.files(package).iterdir()
        if entry.name.endswith(".lua") and not _is_library(entry.name.removesuffix(".lua"))
    )


class Layout(NamedTuple):
    """What a wrapper's argument type declares: fixed ARGV names, then the repeated record's names."""

    args: type
    fixed: list[str]
    records: str | None  # the field holding the repeated records
    record_type: type | None
    record: list[str]


def _layout(wrapper: type[Script[Any, Any]]) -> Layout:
    base = next(b for b in wrapper.__orig_bases__ if typing.get_origin(b))  # type: ignore[attr-defined]
    args_type = typing.get_args(base)[0]
    module = vars(__import__(wrapper.__module__, fromlist=["_"]))
    hints = typing.get_type_hints(args_type, module)
    fixed, records, record_type = [], None, None
    for name in args_type._fields:
        if typing.get_origin(hints[name]) is Sequence:
            records, record_type = name, typing.get_args(hints[name])[0]
        else:
            fixed.append(name)
    if record_type is None:
        record: list[str] = []
    elif record_type is str:
        record = [records.removesuffix("s")]  # type: ignore[union-attr]  # job_ids: one job_id each
    else:
        record = list(record_type._fields)
    return Layout(args_type, fixed, records, record_type, record)


def _header(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:])
    return lines


def _declared_argv(header: list[str]) -> tuple[list[str], list[str]]:
    """Return the header's fixed ARGV names and per-record names (notes in parentheses dropped).

    The ARGV line may go on over the lines right after it that are indented (``--   ...``).
    """
    start = next(i for i, line in enumerate(header) if line.startswith(" ARGV:"))
    block = [header[start].removeprefix(" ARGV:")]
    for line in header[start + 1 :]:
        if not line.startswith("   "):
            break
        block.append(line)
    joined = " ".join(block)
    while re.search(r"\([^()]*\)", joined):
        joined = re.sub(r"\([^()]*\)", "", joined)
    fixed, _, rest = joined.partition("then per ")

    def names(part: str) -> list[str]:
        return [n.strip(" .") for n in part.split(",") if n.strip(" .")]

    return names(fixed), names(rest.partition(":")[2])


def _lua_reads(body: str) -> tuple[set[int], tuple[int, int] | None, int]:
    """Return the fixed ARGV indices read, the record loop's (start, step) and the largest offset read."""
    fixed = {int(n) for n in re.findall(r"ARGV\[(\d+)\]", body)}
    loop = re.search(r"for i = (\d+), #ARGV(?:, (\d+))? do", body)
    offsets = [int(n) for n in re.findall(r"ARGV\[i \+ (\d+)\]", body)]
    records = (int(loop.group(1)), int(loop.group(2) or 1)) if loop else None
    return fixed, records, max(offsets, default=0)


def test_every_script_file_has_one_wrapper_and_every_wrapper_a_file() -> None:
    assert sorted(WRAPPERS) == _script_files()
    assert len(WRAPPERS) == len(_concrete(Script)), "two wrappers for one file"
    for module in WRAPPER_MODULES:
        assert any(w.__module__ == module.__name__ for w in WRAPPERS.values()), module


@pytest.mark.parametrize("key", sorted(WRAPPERS), ids=lambda k: k[1])
def test_the_header_names_the_wrappers_arguments(key: tuple[str, str]) -> None:
    wrapper = WRAPPERS[key]
    header = _header(resources.files(key[0]).joinpath(f"{key[1]}.lua").read_text())
    assert any(line.startswith(" KEYS: none") for line in header), "KEYS: none (derived from the prefix)"
    assert any(line.startswith(" Reply:") for line in header), "the header states the reply"
    layout = _layout(wrapper)
    fixed, record = _declared_argv(header)
    assert fixed == layout.fixed
    assert record == layout.record


@pytest.mark.parametrize("key", sorted(WRAPPERS), ids=lambda k: k[1])
def test_the_lua_reads_as_many_argv_as_the_wrapper_sends(key: tuple[str, str]) -> None:
    layout = _layout(WRAPPERS[key])
    body = resources.files(key[0]).joinpath(f"{key[1]}.lua").read_text()
    fixed, records, offset = _lua_reads(body)
    assert fixed == set(range(1, len(layout.fixed) + 1)), "each fixed argument read, none beyond"
    if layout.records is None:
        assert records is None
    else:
        assert records == (len(layout.fixed) + 1, len(layout.record))
        assert offset == len(layout.record) - 1, "each record field read, none beyond"


def _sample(kind: Any, name: str, counter: list[int]) -> Any:
    counter[0] += 1
    if kind is str:
        return f"<{name}>"
    if kind is bytes:
        return f"<{name}>".encode()
    if kind is bool:
        return True
    return counter[0]  # int, or int | None


def _encoded(value: Any) -> Any:
    return 1 if value is True else value


@pytest.mark.parametrize("key", sorted(WRAPPERS), ids=lambda k: k[1])
def test_argv_sends_the_fields_in_declared_order(key: tuple[str, str]) -> None:
    layout = _layout(WRAPPERS[key])
    counter = [0]
    hints = typing.get_type_hints(layout.args, vars(__import__(layout.args.__module__, fromlist=["_"])))
    values = {name: _sample(hints[name], name, counter) for name in layout.fixed}
    expected = [_encoded(values[name]) for name in layout.fixed]
    if layout.records is not None:
        assert layout.record_type is not None
        if layout.record_type is str:
            records: list[Any] = ["<a>", "<b>"]
            expected += records
        else:
            record_hints = typing.get_type_hints(layout.record_type)
            records = []
            for _ in range(2):
                fields = {n: _sample(record_hints[n], n, counter) for n in layout.record}
                records.append(layout.record_type(**fields))
                expected += list(fields.values())
        values[layout.records] = records
    args = layout.args(**values)
    assert args.argv() == expected
