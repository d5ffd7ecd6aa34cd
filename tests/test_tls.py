"""TLS (``rediss://``) on both transports, against a redis-server that serves TLS only.

The server (``aqueue.embedded.RedisServer(tls=…)``) has a throwaway CA made for this module and requires a
client certificate (``tls-auth-clients yes``). It needs a redis-server built with TLS: without one
(``AQUEUE_REDIS_TLS_SERVER``, else the first binary found that has TLS) the module is skipped, saying so;
under CI (``CI`` set: ``.ci/run`` installs one) it fails instead.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from redis.exceptions import ConnectionError

from aqueue import Client
from aqueue._redis.connection import resolve_settings
from aqueue._redis.wire import Wire
from aqueue.embedded import RedisServer, TLSFiles, make_certificates
from aqueue.errors import ConfigurationError, RedisUnavailableError
from tests.conftest import WorkerFactory

#: A refused handshake must be reported at once, not after connect's retries (5 × 1 s).
PROMPT_S = 2.0


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """Certificates of a CA the server does not know."""
    return make_certificates(tmp_path_factory.mktemp("other-ca"))


@pytest.fixture(scope="module")
def tls_server(tls_files: TLSFiles) -> Iterator[RedisServer]:
    try:
        server = RedisServer(tls=tls_files, tls_auth_clients="yes")
    except ConfigurationError as e:
        if os.environ.get("CI"):  # .ci/run provides one: a skip there would hide a broken TLS path
            pytest.fail(str(e))
        pytest.skip(str(e))
    with server:
        yield server


@pytest.fixture
def redis_url(tls_server: RedisServer, tls_files: TLSFiles, transport: str) -> str:
    """The TLS server's URL (CA and client certificate), flushed; the suite's fixtures use it here."""
    with sync_redis.Redis.from_url(tls_server.url.split("?")[0], **redis_py_tls(tls_files)) as r:
        r.flushall()
    return tls_server.url


def redis_py_tls(files: TLSFiles) -> dict[str, Any]:
    return {
        "ssl_ca_certs": str(files.ca),
        "ssl_certfile": str(files.client_cert),
        "ssl_keyfile": str(files.client_key),
    }


def tls_url(server: RedisServer, **options: str | Path) -> str:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"rediss://127.0.0.1:{server.port}/0" + (f"?{query}" if query else "")


async def double(ctx: dict[str, Any], x: int) -> int:
    return 2 * x


async def test_a_job_is_enqueued_handed_over_and_answered_over_tls(
    redis_url: str, run_worker: WorkerFactory, transport: str
) -> None:
    async with run_worker([double], poll_delay=10) as worker, Client(redis_url) as client:
        await client.enqueue("double", 1)  # the worker is connected and idle once this one is done
        first = await client.enqueue("double", 1)
        assert first is not None and await first.result(timeout=10) == 2
        started = time.monotonic()
        job = await client.enqueue("double", 21)
        assert job is not None and await job.result(timeout=5) == 42
        # Not the 10 s poll: the idle worker's wake-up BLPOP got the job, over TLS.
        assert time.monotonic() - started < 2
        assert worker._transport is not None and worker._transport.name == transport
        assert client._transport is not None and client._transport.name == transport


async def test_tls_url_options_reach_the_wire(tls_server: RedisServer, tls_files: TLSFiles) -> None:
    url = tls_url(
        tls_server,
        ssl_ca_certs=tls_files.ca,
        ssl_certfile=tls_files.client_cert,
        ssl_keyfile=tls_files.client_key,
        ssl_check_hostname="true",  # the server's certificate names 127.0.0.1
    )
    wire = Wire(resolve_settings(url))
    try:
        assert await wire.execute("PING") == b"PONG"
    finally:
        await wire.aclose()


async def test_without_a_client_certificate_the_server_refuses_at_once(
    tls_server: RedisServer, tls_files: TLSFiles, transport: str
) -> None:
    url = tls_url(tls_server, ssl_ca_certs=tls_files.ca)
    started = time.monotonic()
    with pytest.raises(RedisUnavailableError, match="TLS handshake .* failed"):
        await Client(url).connect()
    wire = Wire(resolve_settings(url))
    with pytest.raises(ConnectionError, match="TLS|lost"):
        await wire.execute("PING")
    await wire.aclose()
    assert time.monotonic() - started < PROMPT_S


@pytest.mark.parametrize("check_hostname", ["false", "true"])
async def test_a_certificate_of_an_unknown_ca_is_refused_at_once(
    tls_server: RedisServer, tls_files: TLSFiles, other_ca: TLSFiles, transport: str, check_hostname: str
) -> None:
    url = tls_url(
        tls_server,
        ssl_ca_certs=other_ca.ca,
        ssl_certfile=tls_files.client_cert,
        ssl_keyfile=tls_files.client_key,
        ssl_check_hostname=check_hostname,
    )
    started = time.monotonic()
    with pytest.raises(RedisUnavailableError, match="certificate verify failed"):
        await Client(url).connect()
    wire = Wire(resolve_settings(url))
    with pytest.raises(
        ConnectionError, match="TLS handshake with 127.0.0.1:.* failed: .*certificate verify failed"
    ):
        await wire.execute("PING")
    await wire.aclose()
    assert time.monotonic() - started < PROMPT_S


async def test_ssl_cert_reqs_none_accepts_an_unknown_ca(
    tls_server: RedisServer, tls_files: TLSFiles, other_ca: TLSFiles, transport: str
) -> None:
    url = tls_url(
        tls_server,
        ssl_cert_reqs="none",
        ssl_ca_certs=other_ca.ca,  # the wrong CA: not checked
        ssl_certfile=tls_files.client_cert,
        ssl_keyfile=tls_files.client_key,
    )
    async with Client(url) as client:
        job = await client.enqueue("double", 1)
        assert job is not None and await job.status() == "queued"
        assert client._transport is not None and client._transport.name == transport


async def test_a_tls_file_that_cannot_be_read_is_one_clear_error(
    tls_server: RedisServer, transport: str
) -> None:
    url = tls_url(tls_server, ssl_ca_certs="/nonexistent/ca.pem")
    with pytest.raises(ConfigurationError, match="cannot load the TLS files .*/nonexistent/ca.pem"):
        await Client(url).connect()


def test_rediss_url_options_are_arq_tls_fields() -> None:
    settings = resolve_settings(
        "rediss://u:p@h:6380/2?ssl_cert_reqs=none&ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem"
        "&ssl_keyfile=/k.pem&ssl_check_hostname=true&ssl_ca_data=PEM"
    )
    assert (settings.ssl, settings.host, settings.port, settings.database) == (True, "h", 6380, 2)
    assert (settings.ssl_cert_reqs, settings.ssl_ca_certs, settings.ssl_ca_data) == ("none", "/ca.pem", "PEM")
    assert (settings.ssl_certfile, settings.ssl_keyfile, settings.ssl_check_hostname) == (
        "/c.pem",
        "/k.pem",
        True,
    )
    assert resolve_settings("rediss://h/0?ssl_check_hostname=no").ssl_check_hostname is False
    plain = resolve_settings("rediss://h/0")
    assert (plain.ssl_cert_reqs, plain.ssl_check_hostname) == ("required", False)  # arq's defaults


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("rediss://h/0?ssl_cert_reqs=maybe", "ssl_cert_reqs must be one of none, optional, required"),
        ("rediss://:secret@h/0?socket_timeout=5", "unknown option 'socket_timeout'"),
        ("redis://h/0?ssl_ca_certs=/ca.pem", "TLS options need a rediss:// URL"),
    ],
)
def test_a_bad_tls_option_is_one_clear_error(url: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why) as raised:
        resolve_settings(url)
    assert "secret" not in str(raised.value)


async def test_each_connection_pays_the_handshake_once(redis_url: str) -> None:
    """Many commands on one Wire: one TLS connection, however many calls (the server counts them)."""
    wire = Wire(resolve_settings(redis_url))
    try:
        before = await wire.execute("INFO", "stats")
        await asyncio.gather(*(wire.execute("PING") for _ in range(200)))
        after = await wire.execute("INFO", "stats")
    finally:
        await wire.aclose()
    connections = [int(s.split(b"total_connections_received:")[1].split(b"\r")[0]) for s in (before, after)]
    assert connections[1] == connections[0]
