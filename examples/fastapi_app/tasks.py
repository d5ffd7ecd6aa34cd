"""The worker side of the FastAPI example.

Run it with:  aqueue worker examples.fastapi_app.tasks.WorkerSettings
"""

from __future__ import annotations

import asyncio

from aqueue import JobContext, task


@task(name="reports.build", timeout=120)
async def build_report(ctx: JobContext, account: str, steps: int = 5) -> dict[str, object]:
    """Build a report in ``steps`` steps, reporting progress after each one."""
    for step in range(1, steps + 1):
        await asyncio.sleep(0.02)  # one step of real work
        await ctx["progress"](step / steps, f"step {step} of {steps}")
    if account == "nobody":
        raise LookupError(f"no account named {account!r}")
    return {"account": account, "rows": steps * 100}


class WorkerSettings:
    """The worker's settings; Redis comes from AQUEUE_REDIS_URL."""

    functions = [build_report]
