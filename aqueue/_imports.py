"""Import ``module.Attr`` paths given on the command line, from the current directory."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from aqueue.errors import ConfigurationError


def import_string(path: str) -> Any:
    """Import ``package.module.Attr`` (the current directory is importable); raise ConfigurationError."""
    module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ConfigurationError(f"{path!r} is not a dotted path like 'module.WorkerSettings'")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise ConfigurationError(f"cannot import {path!r}: no module named {e.name!r}") from e
        raise ConfigurationError(f"importing {module_name!r} failed: {e}") from e
    except Exception as e:
        raise ConfigurationError(f"importing {module_name!r} failed: {type(e).__name__}: {e}") from e
    try:
        return getattr(module, attr)
    except AttributeError as e:
        raise ConfigurationError(f"cannot import {path!r}: module {module_name!r} has no {attr!r}") from e
