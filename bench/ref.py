"""Another version of ``aqueue/`` for an A/B run: the package at a git ref, extracted with ``git archive``.

No network and no worktree: ``git archive <commit> aqueue`` of this repository is unpacked into a
temporary directory, which the A/B run puts first on its B children's ``PYTHONPATH``.
"""

from __future__ import annotations

import atexit
import io
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.snapshot import source_hash

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Ref:
    """``aqueue/`` at a git ref: the ref as given, its commit, subject, and where it was unpacked."""

    name: str
    commit: str
    subject: str
    code: Path  # holds aqueue/

    def describe(self) -> str:
        return (
            f"{self.name} = {self.commit[:12]} ({_short(self.subject)}), source sha256 "
            f"{source_hash(self.code / 'aqueue')}, unpacked by git archive into {self.code}"
        )


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _git(*args: str) -> bytes:
    run = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False, timeout=60)
    if run.returncode != 0:
        raise ValueError(f"git {' '.join(args)} failed: {run.stderr.decode(errors='replace').strip()}")
    return run.stdout


def resolve(name: str) -> tuple[str, str]:
    """Return the commit ``name`` points at and its subject line; ValueError if it is not a commit."""
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}").decode().strip()
    except ValueError:
        raise ValueError(f"{name!r} is not a commit of {ROOT} (git rev-parse found nothing)") from None
    subject = _git("log", "-1", "--format=%s", commit).decode().strip()
    return commit, subject


def unpack(commit: str, dest: Path) -> Path:
    """Unpack ``aqueue/`` at ``commit`` under ``dest``; return ``dest``."""
    archive = _git("archive", "--format=tar", commit, "aqueue")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    if not (dest / "aqueue" / "__init__.py").is_file():
        raise ValueError(f"{commit[:12]} has no aqueue/__init__.py")
    return dest


def checkout(name: str) -> Ref:
    """Return ``aqueue/`` at git ref ``name`` in a temporary directory removed when this process exits."""
    commit, subject = resolve(name)
    dest = Path(tempfile.mkdtemp(prefix="bench-ref-"))
    atexit.register(shutil.rmtree, dest, ignore_errors=True)
    return Ref(name, commit, subject, unpack(commit, dest))
