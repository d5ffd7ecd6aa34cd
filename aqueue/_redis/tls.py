"""TLS settings: arq's ``RedisSettings`` TLS fields, read from ``rediss://`` URLs, turned into an SSLContext.

arq's ``RedisSettings`` has ``ssl``, ``ssl_ca_certs``, ``ssl_ca_data``, ``ssl_certfile``, ``ssl_keyfile``,
``ssl_cert_reqs`` (``"none"``, ``"optional"``, ``"required"``) and ``ssl_check_hostname``. A ``rediss://``
URL takes each of them as a query option, as redis-py's ``from_url`` reads them
(``rediss://h:6380/0?ssl_cert_reqs=none``, ``?ssl_ca_certs=/etc/ca.pem&ssl_check_hostname=true``).
:func:`ssl_context` builds the context both connections use, with redis-py's semantics: the system's
CAs plus ``ssl_ca_certs``/``ssl_ca_data``, a client certificate when ``ssl_certfile`` is given.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Any

from arq.connections import RedisSettings

from aqueue.errors import ConfigurationError

__all__ = ["CERT_REQS", "TLS_OPTIONS", "ssl_context", "tls_fields", "tls_refusal", "verify_mode"]

#: ``ssl_cert_reqs`` values, as redis-py reads them.
CERT_REQS: dict[str, ssl.VerifyMode] = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}
#: The query options of a ``rediss://`` URL: arq's ``RedisSettings`` TLS fields.
TLS_OPTIONS = frozenset(
    {"ssl_ca_certs", "ssl_ca_data", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname"}
)
#: How long a probe listens for a refusal after its handshake (loopback or LAN: a round trip or two).
PROBE_S = 0.5
#: Strings redis-py's URL parser reads as False (anything else is True).
_FALSE = frozenset({"0", "f", "false", "n", "no"})


def tls_fields(options: Mapping[str, str]) -> dict[str, Any]:
    """Return the ``RedisSettings`` fields of a URL's TLS query options (validated)."""
    fields: dict[str, Any] = {k: v for k, v in options.items() if k in TLS_OPTIONS}
    if "ssl_check_hostname" in fields:
        fields["ssl_check_hostname"] = fields["ssl_check_hostname"].lower() not in _FALSE
    if "ssl_cert_reqs" in fields:
        verify_mode(fields["ssl_cert_reqs"])
    return fields


def verify_mode(value: str | ssl.VerifyMode | None) -> ssl.VerifyMode:
    """Return ``ssl_cert_reqs`` as a verify mode (None: ``none``, as redis-py reads it)."""
    if isinstance(value, ssl.VerifyMode):
        return value
    mode = CERT_REQS.get((value or "none").lower())
    if mode is None:
        raise ConfigurationError(f"ssl_cert_reqs must be one of {', '.join(CERT_REQS)}, not {value!r}")
    return mode


def ssl_context(settings: RedisSettings) -> ssl.SSLContext:
    """Return a client SSLContext for ``settings``' TLS fields; a file it cannot load is a clear error."""
    context = ssl.create_default_context()
    context.check_hostname = bool(settings.ssl_check_hostname)
    context.verify_mode = verify_mode(settings.ssl_cert_reqs)
    try:
        if settings.ssl_certfile:
            context.load_cert_chain(certfile=settings.ssl_certfile, keyfile=settings.ssl_keyfile)
        if settings.ssl_ca_certs or settings.ssl_ca_data:
            context.load_verify_locations(cafile=settings.ssl_ca_certs, cadata=settings.ssl_ca_data)
    except OSError as e:  # ssl.SSLError too
        raise ConfigurationError(
            f"cannot load the TLS files of the Redis settings (ssl_certfile={settings.ssl_certfile!r}, "
            f"ssl_keyfile={settings.ssl_keyfile!r}, ssl_ca_certs={settings.ssl_ca_certs!r}): {e}"
        ) from e
    return context


async def tls_refusal(settings: RedisSettings, error: BaseException) -> ssl.SSLError | None:
    """Return the TLS error behind a failed connect to ``settings``' server, if TLS is what failed.

    redis-py wraps it in a ConnectionError, or loses it: a server that refuses the client certificate
    sends its alert after the handshake and closes, and if a PING was sent meanwhile the reset that
    follows may discard the alert unread. Then one probe tells: a handshake that sends nothing and
    listens for :data:`PROBE_S`.
    """
    seen: BaseException | None = error
    for _ in range(5):  # the chain is short; never loop on a cycle
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = None if seen is None else seen.__cause__ or seen.__context__
    if not isinstance(settings.host, str) or settings.unix_socket_path:
        return None
    return await _probe(settings, settings.host, settings.port)


class _Probe(asyncio.Protocol):
    """Sends nothing; ``lost`` is why the server closed the connection."""

    def __init__(self) -> None:
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


async def _probe(settings: RedisSettings, host: str, port: int) -> ssl.SSLError | None:
    loop = asyncio.get_running_loop()
    context = ssl_context(settings)
    try:
        async with asyncio.timeout(max(settings.conn_timeout, 1)):
            transport, probe = await loop.create_connection(
                _Probe, host, port, ssl=context, server_hostname=host
            )
    except ssl.SSLError as e:
        return e
    except (OSError, TimeoutError):
        return None
    try:
        lost = await asyncio.wait_for(asyncio.shield(probe.lost), PROBE_S)
    except TimeoutError:  # still open: TLS is not what failed
        return None
    finally:
        transport.close()
    return lost if isinstance(lost, ssl.SSLError) else None
