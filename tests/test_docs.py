"""Every example in the docs runs as written, against the test Redis (issue 15, point 8).

A page shows code only by including a file of ``docs/examples/`` (or of ``examples/``), and each of
those files is run here: a Python example's ``async def main()`` runs beside an in-process worker built
from its ``WorkerSettings`` class if it has one (then its ``.console`` transcript, if it has one); a
Python file that a transcript runs (``python producer.py``, ``aqueue worker tasks.WorkerSettings``) is
run only there; a transcript runs its commands in a shell in ``docs/examples`` and compares
what they print; a ``.conf`` file is given to a real ``redis-server``. A block that cannot run says why
in an ``<!-- unchecked: reason -->`` note right before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis as sync_redis

from aqueue import Worker, close_default_client
from aqueue.embedded import RedisServer, free_port
from aqueue.settings import create_worker
from tests.conftest import ROOT
from tests.docs_examples import (
    CODE_LANGUAGES,
    EXAMPLES,
    Block,
    Step,
    blocks,
    example_files,
    matches,
    pages,
    section_names,
    transcript,
)
from tests.support import WORKER_READY, eventually

#: The examples show aqueue, not a transport: they run on the default one (conftest runs the transports).
pytestmark = pytest.mark.transport("wire")
COMMAND_TIMEOUT_S = 30
#: Pages whose Python blocks another test runs as they are written in the page.
PYTHON_CHECKED_BY = {"docs/testing.md": "tests/test_testing_docs.py"}
#: Examples that connect through their own settings, run by a test of their own here.
OWN_SETTINGS = frozenset({"sentinel.py"})


def code_blocks() -> list[Block]:
    return [block for page in pages() for block in blocks(page) if block.lang in CODE_LANGUAGES]


def transcript_commands(skip: str = "") -> str:
    """Return the commands of every transcript (but the one named ``skip``.console)."""
    files = [path for path in example_files(".console") if path.stem != skip]
    return "\n".join(step.command for path in files for step in transcript(path))


def run_by_transcript(path: Path, commands: str) -> bool:
    return path.name in commands or f"{path.stem}." in commands


def in_process_examples() -> list[Path]:
    """The .py examples with an ``async def main()`` that no other example's transcript runs."""
    return [
        path
        for path in example_files(".py")
        if "async def main()" in path.read_text()
        and not run_by_transcript(path, transcript_commands(skip=path.stem))
        and path.name not in OWN_SETTINGS
    ]


def standalone_transcripts() -> list[Path]:
    beside = {path.stem for path in in_process_examples()}
    return [path for path in example_files(".console") if path.stem not in beside]


def _included(block: Block, file: str) -> Path:
    for base in (EXAMPLES, ROOT):
        if (base / file).is_file():
            return base / file
    raise AssertionError(f"{block.where()} includes {file!r}, which is not in docs/examples/ or the repo")


# -- every block is checked, every example is shown and run ---------------------------------------


def test_every_code_block_is_run_or_says_why_not() -> None:
    unexplained = [
        f"{block.where()} ({block.lang})"
        for block in code_blocks()
        if not block.includes() and block.unchecked is None and not _checked_elsewhere(block)
    ]
    assert not unexplained, (
        "code blocks that neither include a checked example file nor say why not "
        f"(<!-- unchecked: reason -->): {unexplained}"
    )


def _checked_elsewhere(block: Block) -> bool:
    page = block.page.relative_to(ROOT).as_posix()
    return block.lang == "python" and page in PYTHON_CHECKED_BY


def test_pages_checked_elsewhere_are_checked_there() -> None:
    for page, test in PYTHON_CHECKED_BY.items():
        assert f'"{Path(page).name}"' in (ROOT / test).read_text(), f"{test} does not read {page}"


def test_includes_name_files_and_sections_that_exist() -> None:
    for block in code_blocks():
        for file, section in block.includes():
            path = _included(block, file)
            assert section is None or section in section_names(path), f"{block.where()}: no section {section}"


def test_every_example_file_is_shown_on_a_page() -> None:
    shown = {_included(block, file) for block in code_blocks() for file, _ in block.includes() if file}
    files = [*example_files(".py"), *example_files(".console"), *example_files(".conf")]
    assert [path.name for path in files if path not in shown] == []


def test_every_python_example_is_run() -> None:
    """A .py example has a ``main()`` run here, or a transcript's command runs it."""
    commands = transcript_commands()
    run = set(in_process_examples()) | {EXAMPLES / name for name in OWN_SETTINGS}
    assert [p.name for p in example_files(".py") if p not in run and not run_by_transcript(p, commands)] == []


def test_blocks_outside_the_examples_are_in_the_run_suite() -> None:
    """A page that includes a file from elsewhere (the FastAPI app) includes one the suite runs."""
    outside = {
        _included(block, file).relative_to(ROOT).as_posix()
        for block in code_blocks()
        for file, _ in block.includes()
        if not (EXAMPLES / file).is_file()
    }
    assert outside <= {"examples/fastapi_app/app.py", "examples/fastapi_app/tasks.py"}


# -- running them ----------------------------------------------------------------------------------


_LOADED: dict[Path, ModuleType] = {}


@contextlib.contextmanager
def loaded(path: Path) -> Iterator[ModuleType]:
    """Import an example under its own name (so classes it defines can be rebuilt from their path).

    Once per session, as a program imports a module once: the codec remembers the classes it rebuilt,
    and the example registers its codecs at import.
    """
    module = _LOADED.get(path)
    if module is None:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        _LOADED[path] = module
    sys.modules[path.stem] = module
    try:
        yield module
    finally:
        del sys.modules[path.stem]


@contextlib.asynccontextmanager
async def worker_for(settings: Any, redis_url: str) -> AsyncIterator[None]:
    """Run a worker built from ``settings`` (as ``aqueue worker`` builds it) for the block; None: none."""
    if settings is None:
        yield
        return
    worker = create_worker(settings, redis_settings=redis_url, handle_signals=False)
    runner = asyncio.create_task(worker.async_run())
    try:
        await eventually(lambda: _beating(worker, redis_url), "the worker's first heartbeat")
        yield
    finally:
        worker.request_stop(force=True)
        await asyncio.wait_for(runner, 15)
        await worker.close()


def _beating(worker: Worker, redis_url: str) -> bool:
    """Return whether the worker wrote its heartbeat: it has started up (cron jobs registered)."""
    with sync_redis.Redis.from_url(redis_url) as r:
        return bool(r.exists(worker.keys.worker(worker.worker_id)))


@pytest.mark.parametrize("path", in_process_examples(), ids=lambda p: p.name)
async def test_python_example_runs(path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AQUEUE_REDIS_URL", redis_url)
    with loaded(path) as module:
        settings = getattr(module, "WorkerSettings", None)
        async with worker_for(settings, redis_url):
            try:
                await asyncio.wait_for(module.main(), 30)
            finally:
                await close_default_client()
            console = path.with_suffix(".console")
            if console.exists():
                await run_transcript(console, redis_url)


@pytest.mark.parametrize("path", standalone_transcripts(), ids=lambda p: p.name)
async def test_console_example_runs(path: Path, redis_url: str) -> None:
    await run_transcript(path, redis_url)


def shell_env(redis_url: str) -> dict[str, str]:
    """The environment of a reader's shell: this venv's ``aqueue`` and ``python`` first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    return {**os.environ, "AQUEUE_REDIS_URL": redis_url, "PATH": path, "PYTHONUNBUFFERED": "1"}


async def run_transcript(path: Path, redis_url: str) -> None:
    background: list[tuple[Step, asyncio.subprocess.Process, list[str]]] = []
    try:
        for step in transcript(path):
            if step.background:
                background.append(await start_background(step, redis_url))
            else:
                await run_step(path, step, redis_url)
    finally:
        for step, proc, lines in background:
            await stop_background(path, step, proc, lines)


async def run_step(path: Path, step: Step, redis_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        step.command,
        cwd=EXAMPLES,
        env=shell_env(redis_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), COMMAND_TIMEOUT_S)
    printed = out.decode().splitlines()
    assert proc.returncode == 0, f"{path.name}: `{step.command}` exited {proc.returncode}:\n{out.decode()}"
    assert matches(step.expected, printed), (
        f"{path.name}: `{step.command}` printed\n{out.decode()}\nexpected\n" + "\n".join(step.expected)
    )


async def start_background(step: Step, redis_url: str) -> tuple[Step, asyncio.subprocess.Process, list[str]]:
    """Start ``command &``; a worker is waited for until it takes jobs."""
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        "exec " + step.command.rstrip().removesuffix("&"),
        cwd=EXAMPLES,
        env=shell_env(redis_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    if "aqueue worker" in step.command:
        await asyncio.wait_for(_read_until_ready(proc, lines), COMMAND_TIMEOUT_S)
    return step, proc, lines


async def _read_until_ready(proc: asyncio.subprocess.Process, lines: list[str]) -> None:
    assert proc.stdout is not None
    while True:
        line = await proc.stdout.readline()
        if not line:
            raise AssertionError("the worker exited before taking jobs:\n" + "".join(lines))
        lines.append(line.decode())
        if WORKER_READY.search(lines[-1]):
            return


async def stop_background(path: Path, step: Step, proc: asyncio.subprocess.Process, lines: list[str]) -> None:
    """Stop a background command as Ctrl-C would stop a worker; it must exit cleanly."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), COMMAND_TIMEOUT_S)
    log = "".join(lines) + out.decode()
    assert proc.returncode == 0, f"{path.name}: `{step.command}` exited {proc.returncode}:\n{log}"
    assert "Traceback" not in log, log


@contextlib.contextmanager
def sentinel_beside(master: RedisServer, tmp_path: Path) -> Iterator[str]:
    """Run a real Redis Sentinel that monitors ``master`` as ``mymaster``; yield its ``host:port``."""
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {master.port} 1\n")
    proc = subprocess.Popen(
        [master.binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        probe = sync_redis.Redis(port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(sync_redis.RedisError):
                if probe.sentinel_get_master_addr_by_name("mymaster"):
                    break
            assert time.monotonic() < deadline and proc.poll() is None, "the sentinel did not start"
            time.sleep(0.02)
        probe.close()
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_sentinel_example_runs_through_a_real_sentinel(
    redis_server: RedisServer, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example's own settings, unchanged: the worker and the producer find Redis via Sentinel."""
    with sentinel_beside(redis_server, tmp_path) as address:
        monkeypatch.setenv("REDIS_SENTINELS", address)
        monkeypatch.setenv("AQUEUE_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
        await run_with_own_settings(EXAMPLES / "sentinel.py")
    gc.collect()  # connections left open to the sentinels would warn here (warnings are errors)


async def run_with_own_settings(path: Path) -> None:
    with loaded(path) as module:
        assert module.WorkerSettings.redis_settings.sentinel
        worker = create_worker(module.WorkerSettings, handle_signals=False)
        runner = asyncio.create_task(worker.async_run())
        try:
            await asyncio.wait_for(module.main(), 30)
        finally:
            worker.request_stop(force=True)
            await asyncio.wait_for(runner, 15)
            await worker.close()


# -- redis.conf examples ---------------------------------------------------------------------------


def conf_directives(path: Path) -> dict[str, str]:
    pairs = (line.split(None, 1) for line in path.read_text().splitlines())
    return {
        words[0]: words[1].strip()
        for words in pairs
        if words and not words[0].startswith("#") and len(words) == 2
    }


@pytest.mark.parametrize("path", example_files(".conf"), ids=lambda p: p.name)
def test_redis_conf_example_is_accepted(path: Path, tmp_path: Path) -> None:
    """A real redis-server starts with the file's directives and reports each one as set."""
    wanted = conf_directives(path)
    args = tuple(arg for name, value in wanted.items() for arg in (f"--{name}", value))
    with RedisServer(data_dir=tmp_path, extra_args=args) as server:
        r = sync_redis.Redis.from_url(server.url, decode_responses=True)
        try:
            for name, value in wanted.items():
                assert r.config_get(name).get(name) == value, name
        finally:
            r.close()
