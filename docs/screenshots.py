"""Take the dashboard's screenshots in docs/images/ from a real headless Chromium on a live system.

Run from the repository root:  .venv/bin/python docs/screenshots.py
It starts an embedded Redis, a worker process and ``aqueue dashboard`` (examples/dashboard_demo.py),
makes some work (finished, failing, deferred and running jobs, a workflow run), and saves
``dashboard-overview.png``, ``dashboard-job.png`` and ``dashboard-workflow.png``. Needs Debian's
``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aqueue import Client  # noqa: E402 - after the repository root is on the path
from aqueue.embedded import RedisServer  # noqa: E402
from aqueue.workflows import chord, sig  # noqa: E402
from examples.dashboard_demo import browser, live_site  # noqa: E402

IMAGES = ROOT / "docs" / "images"


async def make_work(client: Client) -> tuple[str, str]:
    """Enqueue a mix of jobs and a workflow; return a running report's job id and the run's id."""
    for n in range(40):
        await client.enqueue("add", n, n)
    for n in range(6):
        await client.enqueue("payments.charge", 10 * (n + 1))
    for n in range(12):
        await client.enqueue("add", n, 1, _defer_by=3600)
        await client.enqueue("add", n, 2, _queue_name="emails", _defer_by=600)
    report = await client.enqueue("reports.build", "acme", steps=80, pause=0.1)
    assert report is not None
    parts = [sig("reports.build", f"region-{r}", steps=s, pause=0.1) for r, s in (("eu", 4), ("us", 60), ("ap", 90))]
    run = await client.run(chord(parts, sig("reports.build", steps=3, pause=0.1)))
    return report.job_id, run.run_id


async def trickle(client: Client, seconds: float) -> None:
    """Keep some jobs flowing (a few failing) so the overview has throughput to show."""
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        await client.enqueue("add", n, n)
        if n % 7 == 0:
            await client.enqueue("payments.charge", n)
        n += 1
        await asyncio.sleep(0.05)


async def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with RedisServer() as redis, live_site(redis.url, "--queue", "emails") as url:
        chrome = browser(1280, 820)
        try:
            async with Client(redis.url) as client:
                chrome.get(url + "/")
                report, run = await make_work(client)
                await asyncio.sleep(1.0)
                chrome.get(f"{url}/workflows/{run}")
                await asyncio.sleep(2.0)
                chrome.save_screenshot(str(IMAGES / "dashboard-workflow.png"))
                chrome.get(f"{url}/jobs/{report}")
                await asyncio.sleep(2.5)
                chrome.save_screenshot(str(IMAGES / "dashboard-job.png"))
                chrome.get(url + "/")
                await trickle(client, 12.0)
                chrome.save_screenshot(str(IMAGES / "dashboard-overview.png"))
        finally:
            chrome.quit()
    for name in ("overview", "job", "workflow"):
        print(IMAGES / f"dashboard-{name}.png")


if __name__ == "__main__":
    asyncio.run(main())
