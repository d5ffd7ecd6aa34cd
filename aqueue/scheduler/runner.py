"""The Redis side of the scheduler (placeholder until the runner lands): installs nothing yet."""

from __future__ import annotations

from typing import Any


def install(worker: Any) -> None:
    """Attach the cron service and outcome observer to ``worker`` (not implemented yet)."""
