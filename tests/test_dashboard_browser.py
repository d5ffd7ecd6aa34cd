"""The dashboard in a real headless Chromium (Debian's, through chromedriver and Selenium).

A worker process runs real jobs and ``aqueue dashboard`` serves on a free loopback port (both
started as the CLI starts them); one browser session serves the module. Without Debian's
``chromium`` and ``chromium-driver`` these tests are skipped, saying so (``.ci/run`` installs them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from aqueue import Client
from aqueue.embedded import RedisServer
from aqueue.errors import JobAborted
from aqueue.workflows import chain, sig
from examples.dashboard_demo import CHROMEDRIVER, CHROMIUM, browser, live_site

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="no headless browser: apt-get install chromium chromium-driver (.ci/run does)",
    ),
    pytest.mark.timeout(90),
    pytest.mark.transport("wire"),  # a browser, not a transport
]

T = TypeVar("T")


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def site(redis: RedisServer) -> Iterator[str]:
    with live_site(redis.url, "--queue", "arq:queue") as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[WebDriver]:
    driver = browser()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
async def client(redis: RedisServer, transport: str) -> Any:
    async with Client(redis.url) as c:
        yield c


def eventually(probe: Callable[[], T | None], timeout: float = 15, what: str = "the page") -> T:
    """Return ``probe()``'s first truthy value, polling; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = probe()
        except (StaleElementReferenceException, NoSuchElementException):  # htmx swapped it meanwhile
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not show it in {timeout} s")
        time.sleep(0.05)


def cell(chrome: WebDriver, queue: str, column: str) -> str:
    rows = chrome.find_elements(By.CSS_SELECTOR, f'tr[data-queue="{queue}"] td.{column}')
    return rows[0].text if rows else ""


async def test_overview_shows_the_live_state(site: str, chrome: WebDriver, client: Client) -> None:
    for n in range(3):
        await client.enqueue("add", n, n, _defer_by=3600)
    chrome.get(site + "/")
    assert eventually(lambda: cell(chrome, "arq:queue", "deferred") == "3", what="the overview")
    assert eventually(lambda: "Live workers (1)" in chrome.page_source, what="the worker list")
    for n in range(2):  # the page refreshes itself: the new jobs appear without a reload
        await client.enqueue("add", n, n, _defer_by=3600)
    assert eventually(lambda: cell(chrome, "arq:queue", "deferred") == "5", what="the refreshed overview")


def bar_width(chrome: WebDriver) -> float:
    bars = chrome.find_elements(By.ID, "progress-bar")
    if not bars:
        return 0.0
    style = bars[0].get_attribute("style") or ""
    return float(style.partition("width:")[2].strip(" %;") or 0)


async def test_the_progress_bar_moves_and_abort_stops_the_job(
    site: str, chrome: WebDriver, client: Client
) -> None:
    job = await client.enqueue("reports.build", "acme", steps=60, pause=0.1)
    assert job is not None
    chrome.get(f"{site}/jobs/{job.job_id}")
    first = eventually(lambda: bar_width(chrome), what="the progress bar")
    second = eventually(lambda: (w := bar_width(chrome)) > first and w, what="a wider progress bar")
    assert 0 < first < second < 100
    assert eventually(lambda: chrome.find_element(By.ID, "job-state").text == "running", what="the job state")
    eventually(
        lambda: chrome.find_element(By.XPATH, "//button[text()='Abort']").click() or True, what="Abort"
    )
    info = await job.wait(timeout=10)
    assert not info.success and isinstance(info.result, JobAborted)
    assert eventually(lambda: chrome.find_element(By.ID, "job-state").text == "failed", what="the job page")
    assert eventually(lambda: "JobAborted" in chrome.find_element(By.ID, "job-error").text, what="the error")
    assert "asked its worker to abort it" in chrome.find_element(By.ID, "notice").text


async def test_the_workflow_dag_follows_the_run(site: str, chrome: WebDriver, client: Client) -> None:
    steps = [sig("reports.build", "a", steps=8, pause=0.1)] + [sig("reports.build", steps=2, pause=0.05)] * 2
    run = await client.run(chain(*steps))
    chrome.get(f"{site}/workflows/{run.run_id}")

    def states() -> list[str]:
        return [n.get_attribute("data-state") or "" for n in chrome.find_elements(By.CSS_SELECTOR, "g.node")]

    assert eventually(lambda: states() == ["running", "waiting", "waiting"], what="the DAG")
    await run.result(timeout=20)
    assert eventually(lambda: states() == ["done"] * 3, what="the finished DAG")
    assert eventually(
        lambda: chrome.find_element(By.ID, "run-state").text == "complete", what="the run state"
    )
