"""Sentinel: ``redis+sentinel://`` URLs, arq's ``RedisSettings(sentinel=True)``, auth errors, a failover.

The deployments are real (``tests/sentinel.py``): a primary, a replica and three sentinels on loopback.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from arq.connections import RedisSettings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from aqueue import Client, ConfigurationError, RedisAuthError, Worker
from aqueue._redis.connection import SentinelSettings, describe, resolve_settings
from aqueue._redis.wire import Wire
from aqueue.embedded import RedisServer
from tests.conftest import run_cli
from tests.sentinel import MASTER, SentinelGroup, logs

DATA_PW, SENTINEL_PW = "data-pw", "sentinel-pw"


# -- URLs and settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "hosts", "master", "db", "user", "password", "sentinel_user", "sentinel_password"),
    [
        ("redis+sentinel://h1:1,h2:2/master/0", [("h1", 1), ("h2", 2)], "master", 0, None, None, None, None),
        ("redis+sentinel://:pw@h1,h2:1/m/3", [("h1", 26379), ("h2", 1)], "m", 3, None, "pw", None, None),
        ("redis+sentinel://h:1/m?db=2", [("h", 1)], "m", 2, None, None, None, None),
        (
            "redis+sentinel://alice:p%40ss@[::1]:5000,10.0.0.2/svc%20a?sentinel_password=s%26p&sentinel_username=bob",
            [("::1", 5000), ("10.0.0.2", 26379)], "svc a", 0, "alice", "p@ss", "bob", "s&p",
        ),
    ],
)  # fmt: skip
def test_sentinel_urls_become_arq_sentinel_settings(
    url: str,
    hosts: list[tuple[str, int]],
    master: str,
    db: int,
    user: str | None,
    password: str | None,
    sentinel_user: str | None,
    sentinel_password: str | None,
) -> None:
    settings = resolve_settings(url)
    assert isinstance(settings, SentinelSettings) and isinstance(settings, RedisSettings)
    assert settings.sentinel is True
    assert (settings.host, settings.sentinel_master, settings.database) == (hosts, master, db)
    assert (settings.username, settings.password) == (user, password)
    assert (settings.sentinel_username, settings.sentinel_password) == (sentinel_user, sentinel_password)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis+sentinel://h:1", "name the master"),
        ("redis+sentinel://h:1/", "name the master"),
        ("redis+sentinel://h:1/m/0/more", "name the master"),
        ("redis+sentinel://h:x/m", "'x' is not a number"),
        ("redis+sentinel://h:1/m/zero", "'zero' is not a number"),
        ("redis+sentinel://h:70000/m", "out of range"),
        ("redis+sentinel://:1/m", "must be host:port"),
        ("redis+sentinel://h:1,,h2:2/m", "must be host:port"),
        ("redis+sentinel://:secret@h:1/m?colour=red", "unknown option 'colour'"),
        ("redis+sentinel://h:1/m?sentinel_password=secret&db=x", "'x' is not a number"),
    ],
)
def test_a_bad_sentinel_url_is_one_clear_error_without_its_passwords(url: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid Sentinel URL") as raised:
        resolve_settings(url)
    message = str(raised.value)
    assert why in message and "redis+sentinel://[user:password@]host:port" in message
    assert "secret" not in message


def test_a_bad_plain_url_does_not_print_its_password() -> None:
    with pytest.raises(ConfigurationError, match=r"invalid Redis URL 'http://u:\*\*\*@h/0'"):
        resolve_settings("http://u:hunter2@h/0")


def test_sentinel_settings_print_as_the_sentinels_and_the_master_never_a_password() -> None:
    url = "redis+sentinel://:pw@10.0.0.1:26379,[::1]:26380/mymaster/2?sentinel_password=spw"
    expected = "redis+sentinel://10.0.0.1:26379,[::1]:26380/mymaster/2"
    settings = resolve_settings(url)
    assert describe(settings) == expected == Client(url).address
    assert repr(settings) == f"SentinelSettings({expected})"
    arq_style = RedisSettings(host=[("10.0.0.1", 26379)], sentinel=True, sentinel_master="m", password="pw")
    assert describe(arq_style) == "redis+sentinel://10.0.0.1:26379/m/0"
    assert resolve_settings(arq_style) is arq_style


# -- a deployment with passwords: client, worker, command line, auth errors -----------------------------


@pytest.fixture(scope="module")
def secured() -> Iterator[SentinelGroup]:
    """One Sentinel deployment for the module: data nodes and sentinels with passwords."""
    with SentinelGroup(password=DATA_PW, sentinel_password=SENTINEL_PW) as group:
        yield group


@pytest.fixture
def url(secured: SentinelGroup) -> str:
    """The deployment's URL, its primary flushed."""
    address = secured.master_address()
    assert address is not None
    with contextlib.closing(secured.data_client(secured.server_at(address[1]))) as r:
        r.flushall()
    return secured.url


async def double(ctx: dict[str, Any], x: int) -> int:
    return 2 * x


async def test_a_client_and_a_worker_on_a_sentinel_url(
    url: str, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    caplog.set_level(logging.INFO, logger="aqueue")
    async with Client(url) as client:
        assert client.address == describe(resolve_settings(url))
        job = await client.enqueue("double", 21)
        assert job is not None
        assert client._transport is not None and client._transport.name == transport  # auto: the Wire
        worker = Worker([double], redis_settings=url, burst=True, handle_signals=False)
        await worker.async_run()
        assert worker._transport is not None and worker._transport.name == transport
        await worker.close()
        assert await job.result(timeout=5) == 42
    started = [r.getMessage() for r in caplog.records if " on redis+sentinel://" in r.getMessage()]
    assert len(started) == 1 and f"/{MASTER}/0, queue " in started[0], started
    assert DATA_PW not in caplog.text and SENTINEL_PW not in caplog.text


def test_the_command_line_on_a_sentinel_url(url: str, transport: str) -> None:
    nowhere = "redis://127.0.0.1:1/0"  # AQUEUE_REDIS_URL: --redis must win
    enqueued = run_cli("enqueue", "add", "2", "3", "--redis", url, redis_url=nowhere)
    assert enqueued.returncode == 0, enqueued.stderr
    job_id = enqueued.stdout.strip()
    worked = run_cli("worker", "tests.cli_settings.WorkerSettings", "--burst", redis_url=url)
    assert worked.returncode == 0, worked.stderr
    assert f" on {describe(resolve_settings(url))}, queue " in worked.stderr
    assert DATA_PW not in worked.stderr + worked.stdout and SENTINEL_PW not in worked.stderr + worked.stdout
    status = run_cli("job", job_id, redis_url=url)
    assert status.returncode == 0 and "complete" in status.stdout, status.stdout + status.stderr


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        ((f":{DATA_PW}@", ":wrong@"), "WRONGPASS", "the user name or password in the URL is wrong"),
        ((f":{DATA_PW}@", ""), "NOAUTH", "it wants a password"),
        ((f"={SENTINEL_PW}", "=wrong"), "WRONGPASS", "the sentinels of redis+sentinel://"),
        ((f"?sentinel_password={SENTINEL_PW}", ""), "NOAUTH", "add ?sentinel_password=… to the URL"),
    ],
)
async def test_a_wrong_or_missing_sentinel_or_data_password_is_reported_at_once(
    url: str, change: tuple[str, str], code: str, says: str, transport: str
) -> None:
    bad = url.replace(*change)
    assert bad != url
    started = time.monotonic()
    with pytest.raises(RedisAuthError) as raised:
        await Client(bad).connect()  # arq's settings retry 5 times, 1 s apart: not a refusal
    assert time.monotonic() - started < 1
    assert raised.value.code == code and says in str(raised.value), raised.value
    assert DATA_PW not in str(raised.value) and SENTINEL_PW not in str(raised.value)


@pytest.mark.parametrize(("password", "code"), [("wrong", "WRONGPASS"), (None, "NOAUTH")])
async def test_a_wrong_or_missing_password_is_reported_at_once(password: str | None, code: str) -> None:
    with RedisServer(password="s3cret") as server:
        bad = server.url.replace(":s3cret@", f":{password}@" if password else "")
        started = time.monotonic()
        with pytest.raises(RedisAuthError, match=f"refused the command: .*Redis said: {code}"):
            await Client(bad).connect()
        assert time.monotonic() - started < 1
        started = time.monotonic()
        done = await asyncio.to_thread(run_cli, "worker", "tests.cli_settings.WorkerSettings", redis_url=bad)
        assert time.monotonic() - started < 10  # one line at once, not "cannot reach Redis" after 5 s
        assert done.returncode == 1, done.stdout + done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and code in lines[0], done.stderr
        assert "cannot reach" not in lines[0] and "s3cret" not in done.stderr


async def test_the_wire_leaves_a_demoted_primary_and_refuses_a_node_that_is_no_primary(
    group: SentinelGroup,
) -> None:
    wire = Wire(resolve_settings(group.url))
    try:
        assert await wire.execute("SET", "k", 1) == b"OK"
        # Swap the roles behind the sentinels' back: they still name the old primary for a while.
        with contextlib.closing(group.data_client(group.replica)) as r:
            r.execute_command("REPLICAOF", "NO", "ONE")
        with contextlib.closing(group.data_client(group.primary)) as r:
            r.execute_command("REPLICAOF", "127.0.0.1", str(group.replica.port))
        with pytest.raises(ResponseError, match="READONLY"):
            await wire.execute("SET", "k", 2)
        # That reply dropped the connection; the next one asks the sentinels and checks ROLE.
        with pytest.raises(
            RedisConnectionError, match=f":{group.primary.port}, named primary by the sentinels"
        ):
            await wire.execute("GET", "k")
    finally:
        await wire.aclose()


# -- a failover: SIGKILL of the primary under load -------------------------------------------------

#: Enqueues per second of the plain and the durable producer.
PLAIN_RATE, DURABLE_RATE = 200, 50
KILL_AFTER_S, PRODUCE_S = 2.0, 8.0


@dataclass
class Ledger:
    """What the test saw: enqueues acknowledged and failed, executions by enqueue, failover times."""

    acked: dict[tuple[str, int], float] = field(default_factory=dict)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    stalls: list[float] = field(default_factory=list)  # how long each enqueue took
    runs: dict[tuple[str, int], list[tuple[str, str, float]]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    marks: dict[str, float] = field(default_factory=dict)

    def record(self, producer: str, seq: int, job_id: str, worker_id: str) -> None:
        self.runs[producer, seq].append((job_id, worker_id, time.monotonic()))

    def duplicates(self) -> int:
        """Enqueues that became more than one job (a retry must never make a second)."""
        return sum(1 for runs in self.runs.values() if len({job for job, _, _ in runs}) > 1)

    def reruns(self) -> int:
        """Executions of a job beyond its first (a finish the failover lost; at-least-once)."""
        return sum(len(runs) - len({job for job, _, _ in runs}) for runs in self.runs.values())

    def lost(self, producer: str) -> list[int]:
        return sorted(seq for p, seq in self.acked if p == producer and (p, seq) not in self.runs)

    def resumed(self) -> dict[str, float]:
        """Each worker's first execution after the switch, in seconds after the switch."""
        switch, first = self.marks["switch"], {}
        for runs in self.runs.values():
            for _, worker, at in runs:
                if at > switch:
                    first[worker] = min(first.get(worker, at), at)
        return {worker: at - switch for worker, at in first.items()}


async def produce(client: Client, producer: str, rate: int, ledger: Ledger, until: float) -> None:
    """Enqueue ``record(producer, n)`` at ``rate`` per second until ``until``; note every outcome."""
    pending: set[asyncio.Task[None]] = set()

    async def one(seq: int) -> None:
        started = time.monotonic()
        try:
            job = await client.enqueue("record", producer, seq)
            assert job is not None
            ledger.acked[producer, seq] = time.monotonic()
        except Exception as e:  # counted, and the test fails on it
            ledger.errors[f"{producer}: {type(e).__name__}"] += 1
        ledger.stalls.append(time.monotonic() - started)

    seq = 0
    while time.monotonic() < until:
        seq += 1
        task = asyncio.create_task(one(seq))
        pending.add(task)
        task.add_done_callback(pending.discard)
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*pending)


async def fail_over(group: SentinelGroup, ledger: Ledger, after_s: float) -> None:
    """SIGKILL the primary after ``after_s``; note the switch; restart the dead node as a replica."""
    await asyncio.sleep(after_s)
    ledger.marks["kill"] = time.monotonic()
    old = await asyncio.to_thread(group.kill_primary)
    new = await asyncio.to_thread(group.wait_for_switch, old)
    ledger.marks["switch"] = time.monotonic()
    await asyncio.to_thread(group.restart_as_replica, old, new)  # durable enqueues need a replica again
    ledger.marks["replica"] = time.monotonic()


@pytest.fixture
async def group() -> AsyncIterator[SentinelGroup]:
    """A Sentinel deployment of the test's own (it is destroyed)."""
    started = await asyncio.to_thread(SentinelGroup().start)
    try:
        yield started
    finally:
        await asyncio.to_thread(started.close)


@contextlib.asynccontextmanager
async def workers(settings: list[Any], ledger: Ledger) -> AsyncIterator[list[Worker]]:
    """In-process workers, one per settings, that record every execution in ``ledger``."""

    async def record(ctx: dict[str, Any], producer: str, seq: int) -> int:
        ledger.record(producer, seq, ctx["job_id"], ctx["worker_id"])
        return seq

    running = [Worker([record], redis_settings=s, handle_signals=False, max_jobs=20) for s in settings]
    tasks = [asyncio.create_task(w.async_run()) for w in running]
    try:
        yield running
    finally:
        for w in running:
            w.request_stop(force=True)
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
        for w in running:
            await w.close()


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_producers_and_workers_ride_through_a_failover(group: SentinelGroup, transport: str) -> None:
    ledger = Ledger()
    arq_style = RedisSettings(host=[("127.0.0.1", s.port) for s in group.sentinels], sentinel=True)
    async with (
        workers([arq_style, group.url], ledger) as running,
        Client(group.url) as plain,  # the default retry window
        # a durable enqueue also waits out the replica's resync after the switch (seconds on a busy machine)
        Client(group.url, min_replicas=1, replication_timeout_s=0.5, retry_window_s=10) as durable,
    ):
        await asyncio.sleep(0.5)  # the workers are connected and idle
        until = time.monotonic() + PRODUCE_S
        await asyncio.gather(
            produce(plain, "plain", PLAIN_RATE, ledger, until),
            produce(durable, "durable", DURABLE_RATE, ledger, until),
            fail_over(group, ledger, KILL_AFTER_S),
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and ledger.lost("plain") + ledger.lost("durable"):
            await asyncio.sleep(0.1)
        marks = ledger.marks
        resumed = ledger.resumed()
        print(
            f"\nfailover ({transport}): kill -> switch {marks['switch'] - marks['kill']:.2f} s, "
            f"replica back {marks['replica'] - marks['switch']:.2f} s later; workers resumed "
            + ", ".join(f"{s:.2f} s" for s in sorted(resumed.values()))
            + f" after the switch; {len(ledger.acked)} enqueues acknowledged, errors {dict(ledger.errors)}, "
            f"longest enqueue {max(ledger.stalls):.2f} s; lost: plain {len(ledger.lost('plain'))}, "
            f"durable {len(ledger.lost('durable'))}; duplicate jobs {ledger.duplicates()}, "
            f"re-executions {ledger.reruns()}"
        )
        assert not ledger.errors, (dict(ledger.errors), logs(group))
        hot_paths = [w._transport for w in running] + [plain._transport, durable._transport]
        assert all(t is not None and t.name == transport for t in hot_paths)  # auto: the Wire for Sentinel
        assert ledger.duplicates() == 0
        assert ledger.lost("durable") == [], "a job acknowledged by min_replicas=1 was lost"
        assert len(resumed) == len(running) and max(resumed.values()) < 5, resumed  # without a restart
        assert sum(1 for p, _ in ledger.acked if p == "durable") > DURABLE_RATE * PRODUCE_S / 2
