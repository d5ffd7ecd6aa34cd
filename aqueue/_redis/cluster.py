"""Redis Cluster: its URL, its settings, key slots, and the per-queue key layout.

A ``redis+cluster://[user:password@]host:port[,host:port…][/]`` URL names seed nodes of a cluster
(any of its nodes: the client asks one for the slot map). It becomes :class:`ClusterSettings`.

On a cluster a Lua script may only touch keys of one slot, and aqueue's scripts derive every key
from the prefix they are given. In cluster mode each queue therefore gets a prefix of its own that
carries the queue's name as a hash tag, ``arq:{fast}:``: its jobs, results, leases, wake lists,
deliveries, dead letters, workers registry, limits, events, workflow runs and cron schedules all
live under it, in the slot of ``fast``, and different queues spread over the shards
(:class:`ClusterLayout`). Outside cluster mode nothing changes: the layout is arq's, one prefix for
everything (:class:`aqueue._redis.keys.Keys`), which plain arq interop needs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import unquote

from arq.connections import RedisSettings

from aqueue._redis.keys import DEFAULT_PREFIX, Keys
from aqueue.errors import ConfigurationError

__all__ = [
    "CLUSTER_SCHEME",
    "SLOTS",
    "ClusterLayout",
    "ClusterSettings",
    "QueueKeys",
    "describe_cluster",
    "hash_tag",
    "is_cluster",
    "key_slot",
    "parse_cluster_url",
    "split_address",
    "url_credentials",
]

CLUSTER_SCHEME = "redis+cluster://"
CLUSTER_FORM = "redis+cluster://[user:password@]host:port[,host:port…]"
DEFAULT_CLUSTER_PORT = 6379
#: The number of hash slots of a Redis Cluster.
SLOTS = 16384
#: arq's default queue name; in cluster mode its hash tag is ``queue``.
ARQ_DEFAULT_QUEUE = "arq:queue"


@dataclasses.dataclass(repr=False)
class ClusterSettings(RedisSettings):
    """arq's ``RedisSettings`` for a Redis Cluster: ``host`` lists seed nodes as ``(host, port)`` pairs.

    ``username`` and ``password`` are the nodes' (every node of a cluster has the same).
    """

    cluster: bool = True

    def __repr__(self) -> str:
        return f"ClusterSettings({describe_cluster(self)})"


def is_cluster(settings: RedisSettings | None) -> bool:
    """Return True if ``settings`` name a Redis Cluster."""
    return bool(getattr(settings, "cluster", False))


def describe_cluster(settings: RedisSettings) -> str:
    """Return the seed nodes, without password: ``redis+cluster://h:7000,h:7001``."""
    hosts = settings.host if isinstance(settings.host, list) else [(settings.host, settings.port)]
    where = ",".join(f"[{h}]:{p}" if ":" in str(h) else f"{h}:{p}" for h, p in hosts)
    return f"{CLUSTER_SCHEME}{where}"


def parse_cluster_url(url: str) -> ClusterSettings:
    """Return the settings of a ``redis+cluster://`` URL (see the module's docstring)."""
    rest = url[len(CLUSTER_SCHEME) :]
    netloc, _, path = rest.partition("/")
    if path.strip("/") or "?" in rest:
        raise _bad_url(url, "a cluster has one database and this URL takes no options")
    userinfo, _, hosts = netloc.rpartition("@")
    username, password = url_credentials(userinfo)
    if not hosts:
        raise _bad_url(url, "name at least one node")
    return ClusterSettings(
        host=[_address(url, h) for h in hosts.split(",")],
        port=DEFAULT_CLUSTER_PORT,
        username=username,
        password=password,
    )


def url_credentials(userinfo: str) -> tuple[str | None, str | None]:
    """Return the user and password of a URL's ``user:password`` part (percent-decoded; None: absent)."""
    if not userinfo:
        return None, None
    user, colon, password = userinfo.partition(":")
    return unquote(user) or None, unquote(password) if colon else None


def split_address(text: str) -> tuple[str, str]:
    """Split ``host:port`` (``[::1]:7000`` for IPv6) into the host and the port's text ('' if none)."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        return host, port.removeprefix(":")
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    return host, port


def _address(url: str, text: str) -> tuple[str, int]:
    host, port = split_address(text)
    if not host:
        raise _bad_url(url, f"a node address must be host:port, not {text!r}")
    try:
        number = int(port) if port else DEFAULT_CLUSTER_PORT
    except ValueError:
        raise _bad_url(url, f"{port!r} is not a port number") from None
    if not 0 < number < 65536:
        raise _bad_url(url, f"port {number} of node {host} is out of range")
    return host, number


def _bad_url(url: str, why: str) -> ConfigurationError:
    scheme, _, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        userinfo, _, after = rest.partition("@")
        rest = f"{userinfo.partition(':')[0]}:***@{after}" if ":" in userinfo else rest
    return ConfigurationError(f"invalid Cluster URL '{scheme}://{rest}': {why}; use {CLUSTER_FORM}")


# -- slots ----------------------------------------------------------------------------------------


def _crc16_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_CRC16 = _crc16_table()


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ byte) & 0xFF]
    return crc


def hash_tag(key: bytes) -> bytes:
    """Return the part of ``key`` Redis Cluster hashes: the first non-empty ``{…}``, else all of it."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def key_slot(key: bytes | str) -> int:
    """Return the hash slot of ``key`` (CRC16 of its hash tag, mod 16384), as ``CLUSTER KEYSLOT``."""
    raw = key.encode() if isinstance(key, str) else key
    return _crc16(hash_tag(raw)) % SLOTS


# -- the per-queue layout -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueKeys(Keys):
    """The keys of one queue in cluster mode: everything under ``{base}{tag}:``, one slot.

    ``queue()`` names queues in the cluster layout, so that a queue key built from these keys is
    the one :class:`ClusterLayout` gives.
    """

    base: str = DEFAULT_PREFIX

    def queue(self, name: str | None = None) -> str:
        """Return the key of queue ``name`` in the cluster layout (this queue's own when None)."""
        return f"{self.prefix}queue" if not name else ClusterLayout(self.base).queue_key(name)


@dataclass(frozen=True, slots=True)
class ClusterLayout:
    """Maps a queue to its keys in cluster mode: ``fast`` → prefix ``arq:{fast}:``, key ``arq:{fast}:queue``.

    The queue name is the hash tag, so that every script touches one slot and different queues land
    on different slots (and so, usually, shards). arq's default queue (``arq:queue``, or None) is
    ``queue``.
    """

    base: str = DEFAULT_PREFIX

    def tag(self, name: str | None) -> str:
        """Return the hash tag of queue ``name`` (a name, or a queue key of this layout)."""
        if not name or name == ARQ_DEFAULT_QUEUE:
            return "queue"
        if name.startswith(f"{self.base}{{"):
            found = name[len(self.base) + 1 :].partition("}")
            if found[1] and found[0]:
                return found[0]
        tag = name.removeprefix(self.base) or "queue"
        if "{" in tag or "}" in tag:
            raise ConfigurationError(f"a queue name on Redis Cluster may not contain '{{' or '}}': {name!r}")
        return tag

    def keys(self, queue: str | None) -> QueueKeys:
        """Return the keys of ``queue`` (its name or its key; None: the default queue)."""
        return QueueKeys(f"{self.base}{{{self.tag(queue)}}}:", self.base)

    def queue_key(self, name: str | None) -> str:
        """Return the sorted-set key of queue ``name``."""
        return f"{self.base}{{{self.tag(name)}}}:queue"
