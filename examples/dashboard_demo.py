"""The dashboard against a live system: a worker process, the ``aqueue dashboard`` process, a browser.

Used by the browser tests (tests/test_dashboard_browser.py) and by docs/screenshots.py. Run a
worker for these tasks with:  aqueue worker examples.dashboard_demo.WorkerSettings
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from aqueue import cron, task
from aqueue.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
#: Debian's packages (apt-get install chromium chromium-driver); nothing is downloaded.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


@task(name="reports.build")
async def build_report(ctx: dict[str, Any], account: str, steps: int = 40, pause: float = 0.15) -> str:
    """Report progress step by step, slowly enough for a page to see the bar move."""
    for step in range(1, steps + 1):
        await ctx["progress"](step / steps, f"page {step} of {steps}")
        await asyncio.sleep(pause)
    return f"report for {account}: {steps} pages"


@task(name="payments.charge")
async def charge(ctx: dict[str, Any], amount: int) -> None:
    raise ValueError(f"card declined for {amount} EUR")


class WorkerSettings:
    functions = [add, build_report, charge]
    cron_jobs = [cron("*/5 * * * *", "add", name="five-minutely", args=(1, 1))]
    max_jobs = 20


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the dashboard did not answer at {url} in {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def live_site(redis_url: str, *dashboard_args: str) -> Iterator[str]:
    """Run a worker and ``aqueue dashboard`` (on a free loopback port) as processes; yield its URL."""
    env = {**os.environ, "AQUEUE_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "aqueue"]
    worker = subprocess.Popen(
        [*command, "worker", "examples.dashboard_demo.WorkerSettings"], cwd=ROOT, env=env
    )
    port = free_port()
    site = subprocess.Popen(
        [*command, "dashboard", "--host", "127.0.0.1", "--port", str(port), *dashboard_args],
        cwd=ROOT,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/static/dashboard.css", site)
        yield url
    finally:
        _stop(site)
        _stop(worker)


def browser(width: int = 1280, height: int = 900) -> webdriver.Chrome:
    """Return a headless Chromium driven through Debian's chromedriver (Selenium)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        raise RuntimeError("no chromium/chromedriver: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
