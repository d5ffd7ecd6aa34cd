"""The aqueue worker's settings for the workflow benchmark: one no-op task, 100 jobs at once."""

from __future__ import annotations

from typing import Any


async def noop(ctx: dict[str, Any], *args: Any) -> None:
    """Do nothing (a chain step gets the previous result, a chord callback the list of results)."""
    return None


class Settings:
    functions = [noop]
    max_jobs = 100
