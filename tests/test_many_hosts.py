"""Many hosts: a broker, two worker hosts and a trigger-only host, each in its own network namespace.

The test builds the network (as root; skipped otherwise): a switch namespace holding a bridge, and
one namespace per host joined to it by a veth pair, with addresses on 10.77.0.0/24 that exist only
inside those namespaces. The broker runs redis-server, the worker hosts run ``aqueue worker``, and
the trigger host (``tests/hosts_trigger.py``) enqueues by name with no task code.

What it shows: jobs enqueued while no worker runs are executed once workers come; jobs spread over
both workers; a worker link with 20 ms of added latency (``tc netem``; on a kernel without netem, a
relay inside the worker host delays what the broker sends) still completes them; and a worker host
cut off from the broker for 10 s (its switch port down: packets dropped, no reset, so its connections
are half-open) loses nothing and resumes once the link is back. The namespaces are removed
afterwards, whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aqueue.embedded import find_redis_server
from tests.conftest import ROOT, subprocess_env
from tests.support import LoggedProcess

HOSTS = {"broker": 1, "w1": 11, "w2": 12, "trigger": 21}
BROKER_URL = "redis://10.77.0.1:6379/0"
RELAY_URL = "redis://127.0.0.1:6380/0"  # inside w1's namespace, when the kernel has no netem
SETTINGS = "tests.hosts_tasks.HostSettings"
TRIGGER = str(ROOT / "tests" / "hosts_trigger.py")
CUT_S = 10.0


def sh(*cmd: str) -> str:
    """Run a command; fail with its output if it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


class Network:
    """Namespaces joined by a bridge; processes started in them; all removed by :meth:`destroy`."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.made: list[str] = []
        self.procs: list[LoggedProcess] = []
        self.netem = False

    def ns(self, host: str) -> str:
        return f"aq{self.tag}-{host}"

    def add(self, host: str) -> str:
        name = self.ns(host)
        sh("ip", "netns", "add", name)
        self.made.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def build(self) -> None:
        switch = self.add("switch")
        sh("ip", "-n", switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", switch, "link", "set", "br0", "up")
        for host, number in HOSTS.items():
            name = self.add(host)
            port = f"v-{host}"
            sh("ip", "-n", switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", name)
            sh("ip", "-n", switch, "link", "set", port, "master", "br0", "up")
            sh("ip", "-n", name, "addr", "add", f"10.77.0.{number}/24", "dev", "eth0")
            sh("ip", "-n", name, "link", "set", "eth0", "up")
        self.netem = self._has_netem()

    def _has_netem(self) -> bool:
        try:
            sh(*self.exec("trigger", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"))
        except RuntimeError:
            return False
        sh(*self.exec("trigger", "tc", "qdisc", "del", "dev", "lo", "root"))
        return True

    def exec(self, host: str, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns(host), *cmd]

    def start(self, host: str, *cmd: str, **env: str) -> LoggedProcess:
        proc = subprocess.Popen(
            self.exec(host, *cmd),
            cwd=ROOT,
            env={**subprocess_env(BROKER_URL), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        child = LoggedProcess(proc, f"{host}: {' '.join(cmd[:3])} (pid {proc.pid})")
        self.procs.append(child)
        return child

    def trigger(self, *args: str, host: str = "trigger", url: str = BROKER_URL, timeout: float = 60) -> Any:
        """Run the trigger script on ``host``; return its JSON document."""
        done = subprocess.run(
            self.exec(host, sys.executable, TRIGGER, *args),
            cwd=ROOT,
            env={**subprocess_env(url), "PYTHONPATH": ""},  # aqueue only: no task code on this host
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"trigger {args} failed:\n{done.stdout}\n{done.stderr}"
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out.pop("task_modules") == [], "the trigger host must not import task code"
        return out

    def port(self, host: str, state: str) -> None:
        """Bring ``host``'s switch port up or down (down: its packets are dropped, silently)."""
        sh("ip", "-n", self.ns("switch"), "link", "set", f"v-{host}", state)

    def destroy(self) -> None:
        for child in self.procs:
            child.kill()
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)


@pytest.fixture
def network() -> Iterator[Network]:
    if os.geteuid() != 0:
        pytest.skip("building network namespaces needs root (CI runs as root)")
    if shutil.which("ip") is None:
        pytest.skip("building network namespaces needs iproute2's ip (CI installs it)")
    net = Network(str(os.getpid()))
    try:
        try:
            net.build()
        except RuntimeError as e:
            pytest.skip(f"cannot build network namespaces here: {e}")
        yield net
    finally:
        net.destroy()


class Latency:
    """20 ms more between worker host w1 and the broker: netem on w1's link, else w1's relay."""

    def __init__(self, net: Network, relay: LoggedProcess | None) -> None:
        self.net = net
        self.relay = relay

    def set(self, on: bool) -> None:
        if self.relay is not None:
            self.relay.proc.send_signal(signal.SIGUSR1 if on else signal.SIGUSR2)
        elif on:
            sh(*self.net.exec("w1", "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "20ms"))
        else:
            sh(*self.net.exec("w1", "tc", "qdisc", "del", "dev", "eth0", "root"))


def rtt_ms(net: Network, url: str) -> float:
    """Return the median round trip of a PING from w1 to the broker, as w1's worker reaches it."""
    code = (
        "import statistics, sys, time, redis\n"
        "r = redis.Redis.from_url(sys.argv[1])\n"
        "r.ping()\n"
        "times = []\n"
        "for _ in range(9):\n"
        "    began = time.perf_counter(); r.ping(); times.append(time.perf_counter() - began)\n"
        "print(statistics.median(times) * 1000)\n"
    )
    return float(sh(*net.exec("w1", sys.executable, "-c", code, url)))


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_a_broker_two_worker_hosts_and_a_trigger_host(network: Network, tmp_path: Path) -> None:
    net = network
    net.start(
        "broker", find_redis_server(), "--bind", "10.77.0.1", "--port", "6379", "--save", "",
        "--appendonly", "no", "--protected-mode", "no", "--dir", str(tmp_path),
    )  # fmt: skip
    assert net.trigger("ping") == {"pong": True}

    # jobs enqueued while no worker runs wait for one
    net.trigger("enqueue", "0", "30")
    relay = None
    if not net.netem:
        relay_cmd = ("tests/hosts_relay.py", "127.0.0.1:6380", "10.77.0.1:6379", "20")
        relay = net.start("w1", sys.executable, *relay_cmd)
        await relay.wait_log("relaying")
    w1_url = BROKER_URL if relay is None else RELAY_URL
    w1 = net.start("w1", sys.executable, "-m", "aqueue", "worker", SETTINGS, AQUEUE_TEST_HOST="w1",
                   AQUEUE_REDIS_URL=w1_url)  # fmt: skip
    w2 = net.start("w2", sys.executable, "-m", "aqueue", "worker", SETTINGS, AQUEUE_TEST_HOST="w2")
    await w1.ready()
    await w2.ready()
    early = net.trigger("wait", "0", "30", "20")
    net.trigger("enqueue", "30", "100")
    spread = Counter(early["hosts"] + net.trigger("wait", "30", "130", "20")["hosts"])
    assert set(spread) == {"w1", "w2"}, f"both worker hosts should take jobs: {spread}"

    # 20 ms more on w1's link
    latency = Latency(net, relay)
    base_ms = rtt_ms(net, w1_url)
    latency.set(True)
    slow_ms = rtt_ms(net, w1_url)
    assert slow_ms >= base_ms + 15, f"the added latency did not take: {base_ms:.1f} → {slow_ms:.1f} ms"
    began = time.monotonic()
    net.trigger("enqueue", "130", "50")
    slow = net.trigger("wait", "130", "180", "30")
    slow_s = time.monotonic() - began
    latency.set(False)

    # w2 cut off from the broker for 10 s, half-open, then back
    net.port("w2", "down")
    cut_at = time.monotonic()
    net.trigger("enqueue", "180", "80")
    during = net.trigger("wait", "180", "260", "30")
    during_s = time.monotonic() - cut_at
    time.sleep(max(0.0, CUT_S - (time.monotonic() - cut_at)))
    net.port("w2", "up")
    restored_at = time.monotonic()
    resumed = net.trigger("until", "w2", "260", "60", timeout=90)
    resumed_after = time.monotonic() - restored_at
    total = resumed["next"]
    everything = net.trigger("wait", "0", str(total), "30")
    assert w1.alive() and w2.alive(), f"{w1.log}\n{w2.log}"
    print(
        f"\nmany hosts ({'tc netem' if net.netem else 'relay, no netem in this kernel'}): {total} jobs, "
        f"none lost; spread {dict(spread)}; w1 RTT {base_ms:.1f} → {slow_ms:.1f} ms, 50 jobs in "
        f"{slow_s:.2f} s ({dict(Counter(slow['hosts']))}); w2 cut {CUT_S:.0f} s: w1 ran "
        f"{dict(Counter(during['hosts']))} within {during_s:.1f} s; w2 ran a job again "
        f"{resumed_after:.1f} s after the link came back"
    )
    assert len(everything["hosts"]) == total
    assert set(during["hosts"]) == {"w1"}, "w2 cannot have run jobs while cut off"
    assert resumed_after < 30
