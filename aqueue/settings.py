"""Reading worker settings: arq-style settings classes (or dicts) into ``Worker`` options."""

from __future__ import annotations

import inspect
from typing import Any

import arq.worker

from aqueue.worker import Worker

__all__ = ["create_worker", "settings_kwargs"]

_OUR_OPTIONS = set(inspect.signature(Worker.__init__).parameters) - {"self", "arq_options"}
_ARQ_OPTIONS = set(inspect.signature(arq.worker.Worker.__init__).parameters) - {"self"}


def settings_kwargs(settings: Any) -> dict[str, Any]:
    """Read worker options from a settings class (or dict), ignoring attributes that are not options."""
    data = (
        settings
        if isinstance(settings, dict)
        else {k: getattr(settings, k) for k in dir(settings) if not k.startswith("__")}
    )
    return {k: v for k, v in data.items() if k in _OUR_OPTIONS | _ARQ_OPTIONS}


def create_worker(settings: Any, **overrides: Any) -> Worker:
    """Build a Worker from a settings class, with keyword overrides (None values are ignored)."""
    options = {**settings_kwargs(settings), **{k: v for k, v in overrides.items() if v is not None}}
    return Worker(**options)
