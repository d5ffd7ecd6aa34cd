"""aqueue's pytest plugin, loaded automatically when aqueue is installed (entry point ``aqueue``).

Fixtures, all named ``aqueue_*`` so they never shadow a project's own ``client`` or ``redis_url``:

- ``aqueue_redis_server`` (session): an embedded ``redis-server`` for the whole run (none when
  ``--aqueue-redis-url`` points at a server of your own);
- ``aqueue_redis_url``: its URL, the server **flushed before the test** (every key, whatever its
  prefix: code under test that writes to the default ``arq:`` prefix and queue is isolated without
  being told a per-test prefix); ``AQUEUE_REDIS_URL`` is set to it for the test, so the default
  client behind ``aqueue.enqueue`` uses it;
- ``aqueue_settings``: the worker settings the next two use by default (None; override it in your
  ``conftest.py`` to return your ``WorkerSettings``);
- ``aqueue_client``: a connected :class:`aqueue.Client` on it;
- ``aqueue_worker``: ``async with aqueue_worker(WorkerSettings) as worker:`` (see
  :func:`aqueue.testing.run_worker`);
- ``aqueue_eager``: eager mode on it for the whole test (see :func:`aqueue.testing.eager`).

The async fixtures need pytest-asyncio (``pip install 'aqueue-redis[testing]'``). Disable the plugin
with ``-p no:aqueue``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis as sync_redis

from aqueue.client import Client, close_default_client
from aqueue.embedded import RedisServer
from aqueue.errors import ConfigurationError
from aqueue.testing._eager import Eager, eager
from aqueue.testing._worker import RunningWorker, WorkerTarget, run_worker

try:
    import pytest_asyncio
except ImportError:  # the sync fixtures still work; the async ones say what is missing
    pytest_asyncio = None  # type: ignore[assignment]

#: ``aqueue_worker``'s factory: ``aqueue_worker(WorkerSettings, **options)``.
WorkerFactory = Callable[..., contextlib.AbstractAsyncContextManager[RunningWorker]]
URL_OPTION = "aqueue_redis_url"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--aqueue-redis-url`` (and the ini setting of the same name)."""
    help_text = (
        "use this Redis for aqueue's fixtures instead of starting an embedded one; "
        "its database is FLUSHED before every test that uses them"
    )
    parser.getgroup("aqueue").addoption("--aqueue-redis-url", dest=URL_OPTION, default=None, help=help_text)
    parser.addini(URL_OPTION, help_text, default="")


def _external_url(config: pytest.Config) -> str:
    return str(config.getoption(URL_OPTION) or config.getini(URL_OPTION) or "")


@pytest.fixture(scope="session")
def aqueue_redis_server(pytestconfig: pytest.Config) -> Iterator[RedisServer | None]:
    """Start an embedded redis-server for the session (None when ``--aqueue-redis-url`` is given)."""
    if _external_url(pytestconfig):
        yield None
        return
    with RedisServer() as server:
        yield server


@pytest.fixture
def aqueue_redis_url(
    aqueue_redis_server: RedisServer | None, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Return the test Redis's URL, flushed for this test; set ``AQUEUE_REDIS_URL`` to it."""
    url = aqueue_redis_server.url if aqueue_redis_server is not None else _external_url(pytestconfig)
    connection = sync_redis.Redis.from_url(url)
    try:
        if aqueue_redis_server is not None:
            connection.flushall()  # ours: every database
        else:
            connection.flushdb()  # yours: only the database the URL names
    finally:
        connection.close()
    monkeypatch.setenv("AQUEUE_REDIS_URL", url)
    return url


@pytest.fixture
def aqueue_settings() -> WorkerTarget | None:
    """Return the worker settings ``aqueue_worker`` and ``aqueue_eager`` use; override to give yours."""
    return None


def _needs_pytest_asyncio(name: str) -> Callable[..., Any]:
    def missing() -> None:
        pytest.fail(f"the {name} fixture needs pytest-asyncio: pip install 'aqueue-redis[testing]'")

    missing.__name__ = name
    return pytest.fixture(name=name)(missing)


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def aqueue_client(aqueue_redis_url: str) -> AsyncIterator[Client]:
        """Return a connected Client on the test Redis."""
        async with Client(aqueue_redis_url) as client:
            yield client
        await close_default_client()

    @pytest_asyncio.fixture
    async def aqueue_worker(
        aqueue_redis_url: str, aqueue_settings: WorkerTarget | None
    ) -> AsyncIterator[WorkerFactory]:
        """Return ``run_worker`` bound to the test Redis (settings default to ``aqueue_settings``)."""

        def start(
            target: WorkerTarget | None = None, /, **options: Any
        ) -> contextlib.AbstractAsyncContextManager[RunningWorker]:
            chosen = target if target is not None else aqueue_settings
            if chosen is None:
                raise ConfigurationError(
                    "aqueue_worker(): pass your WorkerSettings (or a list of tasks), or override the "
                    "aqueue_settings fixture to return them"
                )
            return run_worker(chosen, redis=aqueue_redis_url, **options)

        yield start
        await close_default_client()

    @pytest_asyncio.fixture
    async def aqueue_eager(
        aqueue_redis_url: str, aqueue_settings: WorkerTarget | None
    ) -> AsyncIterator[Eager]:
        """Run the test in eager mode on the test Redis, with the tasks of ``aqueue_settings``."""
        async with eager(
            () if aqueue_settings is None else aqueue_settings, redis=aqueue_redis_url
        ) as session:
            yield session

else:
    aqueue_client = _needs_pytest_asyncio("aqueue_client")
    aqueue_worker = _needs_pytest_asyncio("aqueue_worker")
    aqueue_eager = _needs_pytest_asyncio("aqueue_eager")
