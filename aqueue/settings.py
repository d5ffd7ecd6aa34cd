"""Reading worker settings: arq-style settings classes (or dicts) into ``Worker`` options."""

from __future__ import annotations

import difflib
import inspect
import warnings
from typing import Any

import arq.worker

from aqueue.errors import SettingsWarning
from aqueue.worker import Worker

__all__ = ["create_worker", "settings_kwargs"]

_OUR_OPTIONS = set(inspect.signature(Worker.__init__).parameters) - {"self", "arq_options"}
_ARQ_OPTIONS = set(inspect.signature(arq.worker.Worker.__init__).parameters) - {"self"}
#: Settings read by the ``aqueue worker`` command itself, not passed to the Worker.
CLI_SETTINGS = frozenset({"log_format"})
OPTIONS = frozenset(_OUR_OPTIONS | _ARQ_OPTIONS)


def settings_kwargs(settings: Any) -> dict[str, Any]:
    """Read worker options from a settings class (or dict).

    A public attribute that is no option (a typo such as ``max_job = 100``) is left out with a
    :class:`~aqueue.errors.SettingsWarning` naming it; name helpers with a leading ``_`` to keep them.
    """
    data = (
        settings
        if isinstance(settings, dict)
        else {k: getattr(settings, k) for k in dir(settings) if not k.startswith("__")}
    )
    unknown = sorted(k for k in data if k not in OPTIONS | CLI_SETTINGS and not k.startswith("_"))
    if unknown:
        warnings.warn(_unknown_message(settings, unknown), SettingsWarning, stacklevel=2)
    return {k: v for k, v in data.items() if k in OPTIONS}


def _unknown_message(settings: Any, unknown: list[str]) -> str:
    where = "worker settings" if isinstance(settings, dict) else f"worker settings {settings.__name__}"
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, OPTIONS, n=1)
        parts.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    return f"{where}: ignoring {', '.join(parts)}: not a worker option"


def create_worker(settings: Any, **overrides: Any) -> Worker:
    """Build a Worker from a settings class, with keyword overrides (None values are ignored).

    An override of ``queue_name`` or ``queues`` replaces whichever of the two the settings give.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    options = settings_kwargs(settings)
    if "queue_name" in given or "queues" in given:
        options.pop("queue_name", None)
        options.pop("queues", None)
    return Worker(**{**options, **given})
