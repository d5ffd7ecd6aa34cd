"""An enqueue that rides through a failover: bounded, idempotent retries, and replicated writes.

The hot path (``Client.enqueue``) makes one attempt and comes here only when it failed or when the
job must reach replicas; nothing here runs for an enqueue that went through.

**Retries** (``Client(retry_window_s=…)``). A failed attempt may or may not have been carried out:
the connection can drop after Redis ran the script and before its reply arrived. So a retry sends
the same job (same id, same payload) with the enqueue script's existence check on, and a retry that
finds the id taken knows its job is there: a fresh random id can only be ours; a caller's ``_job_id``
is ours if the stored job is byte for byte our payload (or its result names our task and enqueue
time). No attempt ever creates a second job. The one case it cannot see: a job that already ran to
the end, and kept no result (``keep_result=0``), within the window; it would run again.

Retried: lost or refused connections (with Sentinel, redis-py turns the old primary's READONLY into
one and asks the sentinels again), and the refusals that pass by themselves (LOADING, TRYAGAIN,
CLUSTERDOWN, NOREPLICAS); not a wrong password, out of memory, a read-only replica on a fixed
address (it stays one), or any other refusal. Each retry waits a jittered, doubling delay capped at
:data:`RETRY_CAP_S`, so a producer resumes within a fraction of a second of the new primary.

**Replicas** (``min_replicas``). ``WAIT n timeout`` on the connection that wrote the job returns how
many replicas have everything that connection wrote. The script and the ``WAIT`` are sent as one
pipeline, on one connection. A retry that finds its job already there wrote nothing on its own
connection, so its ``WAIT`` would prove nothing: it first rewrites the job key in place (same value,
same TTL, a write that replicates after the original) and waits for that.

**Unique keys** (``_unique``, ``_unique_for``, ``_debounce``; ``enqueue_unique.lua``). The retry sends
the same id with the check on, so the cases stay apart: our id exists (the first attempt wrote our job:
ours, not deduplicated); another job holds the key (deduplicated against it; a debounce gives it our
payload again, the same payload and run time as the first attempt did); the key points at our own id
(the throttle window of our own job, which already ran: ours). A deduplicated enqueue wrote nothing
on its connection (or only the debounce), so with ``min_replicas`` it rewrites the unique key in
place and waits for that: the replicas then hold the job that stands for it.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aqueue._clock import Seconds, to_seconds
from aqueue._redis.core import Enqueue, EnqueueArgs, EnqueueJob
from aqueue._redis.errors import REDIS_ERRORS, redis_failure
from aqueue._redis.evalsha import evalsha_waiting, raise_errors, with_wait
from aqueue._redis.scripts import Script
from aqueue._redis.unique import EXISTS, HELD, NEW, EnqueueUnique, EnqueueUniqueArgs, Landed
from aqueue.errors import (
    ConfigurationError,
    RedisFailure,
    RedisRefusedError,
    RedisUnavailableError,
    ReplicationError,
)

if TYPE_CHECKING:
    from aqueue.client import Client

__all__ = [
    "Attempt",
    "Unique",
    "enqueue_again",
    "enqueue_replicated",
    "enqueue_unique",
    "replicas_setting",
    "retry_window",
    "unique_setting",
]

RETRY_BASE_S = 0.02
RETRY_CAP_S = 0.25
#: Refusals that pass by themselves (a restart, a resharding, a replica reconnecting): worth retrying.
TRANSIENT = frozenset({"LOADING", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"})
#: What a failed attempt raises: redis-py's errors, and too few replicas.
RETRIED: tuple[type[Exception], ...] = (*REDIS_ERRORS, ReplicationError)
#: Rewrites a job's key in place if it holds our payload: a write that replicates after the original.
#: 1: rewritten; 0: the key holds something else or nothing.
TOUCH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return 1
"""
#: Rewrites a key in place, whatever it holds: 1, or 0 if it is gone.
TOUCH_ANY = """
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
redis.call('SET', KEYS[1], value, 'KEEPTTL')
return 1
"""

#: Why ``min_replicas`` is refused on Redis Cluster.
CLUSTER_REPLICAS = (
    "min_replicas is not supported on Redis Cluster: WAIT counts one shard's replicas and the cluster "
    "client cannot pin the write and the WAIT to one connection; use min_replicas=0 there"
)


def retry_window(seconds: float) -> float:
    """Return ``seconds`` as a retry window, or raise ConfigurationError if it is negative."""
    if seconds < 0:
        raise ConfigurationError(f"retry_window_s must be 0 (no retries) or more, got {seconds}")
    return seconds


def replicas_setting(count: int, timeout_s: float) -> tuple[int, float]:
    """Return ``(count, timeout_s)`` checked, or raise ConfigurationError."""
    if not isinstance(count, int) or count < 0:
        raise ConfigurationError(f"min_replicas must be a whole number >= 0, got {count!r}")
    if timeout_s <= 0:
        raise ConfigurationError(f"replication_timeout_s must be positive, got {timeout_s}")
    return count, timeout_s


@dataclass(frozen=True, slots=True)
class Unique:
    """An enqueue's unique key: held ``hold_ms`` after its job ended (throttle), or debounced."""

    key: str
    hold_ms: int
    debounce: bool


def unique_setting(
    key: str | None, unique_for: Seconds | None, debounce: Seconds | None, *, deferred: bool
) -> Unique:
    """Return the checked unique options of one enqueue, or raise ConfigurationError before any write.

    ``deferred``: the enqueue also gave ``_defer_until`` or ``_defer_by`` (a debounce sets the run time).
    """
    if not isinstance(key, str) or not key:
        what = "_unique_for and _debounce need _unique" if key is None else f"got {key!r}"
        raise ConfigurationError(f"_unique must be a non-empty string key ({what})")
    hold_s, debounce_s = to_seconds(unique_for), to_seconds(debounce)
    for option, seconds in (("_unique_for", hold_s), ("_debounce", debounce_s)):
        if seconds is not None and not seconds >= 0:
            raise ConfigurationError(f"{option} must be 0 seconds or more, got {seconds}")
    if hold_s and debounce_s is not None:
        raise ConfigurationError("use either _unique_for (throttle) or _debounce, not both")
    if debounce_s is not None and deferred:
        raise ConfigurationError("_debounce sets the run time: do not also give _defer_until or _defer_by")
    return Unique(key, int((hold_s or 0) * 1000), debounce_s is not None)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One job as the enqueue script was sent it, and how to tell that a stored job is this one."""

    prefix: str
    queue: str
    now_ms: int
    job: EnqueueJob
    task: str
    fresh: bool  # the id is a new random one of ours
    unique: Unique | None = None
    priority: int = 0
    group: str = ""

    @classmethod
    def of(cls, args: EnqueueArgs, task: str) -> Attempt:
        """Return the attempt of the enqueue script's ``args`` (one job), for ``task``."""
        (job,) = args.jobs
        return cls(
            args.prefix, args.queue, args.now_ms, job, task, not args.check_ids,
            priority=args.priority, group=args.group,
        )  # fmt: skip

    @property
    def job_id(self) -> str:
        """Return the job's id."""
        return self.job.job_id

    def args(self, *, check_ids: bool) -> EnqueueArgs:
        """Return the enqueue script's arguments for this job."""
        return EnqueueArgs(
            self.prefix, self.queue, self.now_ms, check_ids, (self.job,), self.priority, self.group
        )

    def unique_args(self, unique: Unique, *, check_ids: bool) -> EnqueueUniqueArgs:
        """Return the unique enqueue script's arguments for this job."""
        job = self.job
        return EnqueueUniqueArgs(
            self.prefix, self.queue, self.now_ms, check_ids, job.job_id, job.payload, job.score, job.ttl_ms,
            unique.key, unique.hold_ms, unique.debounce, self.priority, self.group,
        )  # fmt: skip

    @property
    def landed(self) -> Landed:
        """Return where this attempt's own new job landed."""
        return Landed(NEW, self.job.job_id, self.queue)


def retryable(error: BaseException) -> bool:
    """Return whether an enqueue that failed with ``error`` is worth another attempt."""
    if isinstance(error, ReplicationError):
        return True
    failure = error if isinstance(error, RedisFailure) else redis_failure(error)
    if isinstance(failure, RedisRefusedError):
        return failure.code in TRANSIENT
    return isinstance(failure, RedisUnavailableError)


async def enqueue_replicated(client: Client, attempt: Attempt, replicas: int) -> bool:
    """Enqueue, then wait until ``replicas`` replicas have the job; return whether it was written.

    A failure is retried (:func:`enqueue_again`) within the client's window.
    """
    return await enqueue_unique(client, attempt, replicas) is not None


async def enqueue_unique(client: Client, attempt: Attempt, replicas: int) -> Landed | None:
    """Enqueue (under the attempt's unique key, if any); return the job that stands for it.

    That is the attempt's new job, or one holding its unique key; None if the caller's ``_job_id``
    exists (arq). A failure is retried within the client's window; ``replicas``: as
    :func:`enqueue_replicated`.
    """
    try:
        return await _send(client, attempt, replicas, check_ids=not attempt.fresh)
    except RETRIED as e:
        return await _again(client, attempt, e, replicas)


async def enqueue_again(client: Client, attempt: Attempt, error: BaseException, replicas: int = 0) -> bool:
    """Retry an enqueue that failed with ``error`` until the window closes; return whether it was written.

    True also when the first attempt turns out to have written it. Raises the last failure (a
    :class:`RedisFailure`) if no attempt went through in time, or at once if it is not worth retrying.
    """
    return await _again(client, attempt, error, replicas) is not None


async def _again(client: Client, attempt: Attempt, error: BaseException, replicas: int) -> Landed | None:
    """Retry as :func:`enqueue_again` does; return the job that stands for the enqueue (None: id taken)."""
    window = client.retry_window_s
    if window <= 0 or not retryable(error):
        raise _failure(client, error) from error
    deadline = time.monotonic() + window
    tries = 0
    while (left := deadline - time.monotonic()) > 0:
        tries += 1
        await asyncio.sleep(min(left, _delay(tries)))
        try:  # the last attempt, at the deadline, still gets RETRY_CAP_S to answer
            async with asyncio.timeout(max(deadline - time.monotonic(), RETRY_CAP_S)):
                return await _settle(client, attempt, replicas)
        except RETRIED as e:
            if not retryable(e):
                raise _failure(client, e) from e
            error = e
        except TimeoutError:  # an attempt that outlived the window (a silent connection)
            break
    failure = _failure(client, error)
    note = f" (enqueue of job {attempt.job_id} retried for {window:g} s; it may have been written)"
    raise _with_note(failure, note) from error


def _delay(tries: int) -> float:
    """Return the wait before retry number ``tries``: full jitter, doubling, capped at RETRY_CAP_S."""
    return random.uniform(RETRY_BASE_S, min(RETRY_CAP_S, RETRY_BASE_S * 2**tries))


async def _settle(client: Client, attempt: Attempt, replicas: int) -> Landed | None:
    """Send the job again, checking its id; return the job that now stands for it (None: not ours)."""
    landed = await _send(client, attempt, replicas, check_ids=True)
    if landed is not None:
        return landed
    if not attempt.fresh and not await _is_ours(client, attempt):
        return None  # a caller's _job_id that another enqueue holds: None, as arq
    if replicas:
        await _confirm(client, attempt, replicas)
    return attempt.landed


async def _send(client: Client, attempt: Attempt, replicas: int, *, check_ids: bool) -> Landed | None:
    """One attempt; return the job that stands for it, or None if the attempt's id exists."""
    if attempt.unique is None:
        written = await _write(client, attempt, replicas, check_ids=check_ids)
        return attempt.landed if written else None
    args = attempt.unique_args(attempt.unique, check_ids=check_ids)
    script = client.scripts.get(EnqueueUnique)
    if not replicas:
        return _own(attempt, await script(args))
    landed, acknowledged = await _replicated(client, script, args.argv(), replicas)
    landed = _own(attempt, script.parse(args, landed))
    if landed is None:
        return None
    if landed.state == HELD:  # it wrote nothing on this connection
        key = client.keys_for(attempt.queue).unique(attempt.unique.key)
        touched, acknowledged = raise_errors(await _pipeline(client, ("EVAL", TOUCH_ANY, 1, key), replicas))
        if not touched:  # the holder ended and released it meanwhile: nothing left to lose
            return landed
    _check_replicas(client, landed.job_id, replicas, int(acknowledged))
    return landed


def _own(attempt: Attempt, landed: Landed) -> Landed | None:
    """Return ``landed`` as the attempt's own job when the job that stands for it is ours; None if taken."""
    if landed.state == EXISTS:
        return None
    return attempt.landed if landed.job_id == attempt.job_id else landed


async def _write(client: Client, attempt: Attempt, replicas: int, *, check_ids: bool) -> bool:
    """One attempt: the enqueue script (and, for ``replicas``, a WAIT on the same connection)."""
    args = attempt.args(check_ids=check_ids)
    script = client.scripts.get(Enqueue)
    if not replicas:
        return (await script(args))[0]
    written, acknowledged = await _replicated(client, script, args.argv(), replicas)
    if written[0]:
        _check_replicas(client, attempt.job_id, replicas, int(acknowledged))
    return bool(written[0])


async def _replicated(
    client: Client, script: Script[Any, Any], argv: list[Any], replicas: int
) -> tuple[Any, int]:
    """Run ``script`` and a WAIT for ``replicas`` on one connection; return its raw reply and the count."""
    _refuse_on_cluster(client)
    return await evalsha_waiting(client.redis, script, argv, replicas, _timeout_ms(client))


async def _confirm(client: Client, attempt: Attempt, replicas: int) -> None:
    """Make sure ``replicas`` replicas hold a job an earlier attempt wrote (see the module's docstring)."""
    key = client.keys_for(attempt.queue).job(attempt.job_id)
    touched, acknowledged = raise_errors(
        await _pipeline(client, ("EVAL", TOUCH, 1, key, attempt.job.payload), replicas)
    )
    if touched:  # else the job already ran and its key is gone: there is nothing left to lose
        _check_replicas(client, attempt.job_id, replicas, int(acknowledged))


async def _pipeline(client: Client, command: tuple[Any, ...], replicas: int) -> list[Any]:
    _refuse_on_cluster(client)
    return await with_wait(client.redis, command, replicas, _timeout_ms(client))


def _refuse_on_cluster(client: Client) -> None:
    if client.layout is not None:
        raise ConfigurationError(CLUSTER_REPLICAS)


def _timeout_ms(client: Client) -> int:
    return int(client.replication_timeout_s * 1000)


def _check_replicas(client: Client, job_id: str, replicas: int, acknowledged: int) -> None:
    if acknowledged >= replicas:
        return
    raise ReplicationError(
        f"job {job_id} was written to Redis at {client.address}, but only {acknowledged} of "
        f"{replicas} replicas confirmed it within {client.replication_timeout_s:g} s: a failover now "
        "could lose it (are the replicas connected?)",
        job_id=job_id,
        acknowledged=acknowledged,
        wanted=replicas,
    )


async def _is_ours(client: Client, attempt: Attempt) -> bool:
    """Return whether the job stored under the attempt's id is the attempt's (or its result is)."""
    async with client.redis.pipeline(transaction=False) as pipe:
        pipe.get(client.keys_for(attempt.queue).job(attempt.job_id))
        pipe.get(client.keys_for(attempt.queue).result(attempt.job_id))
        stored, result = await pipe.execute()
    if stored is not None:
        return bool(stored == attempt.job.payload)
    if result is None:
        return False
    try:
        envelope = client.job_deserializer(result)
    except Exception:  # a result we cannot read is not one we can claim
        return False
    return isinstance(envelope, dict) and (envelope.get("f"), envelope.get("et")) == (
        attempt.task,
        attempt.now_ms,
    )


def _failure(client: Client, error: BaseException) -> RedisFailure:
    return error if isinstance(error, RedisFailure) else redis_failure(error, client.address)


def _with_note(failure: RedisFailure, note: str) -> RedisFailure:
    """Return a copy of ``failure`` (same class and fields) whose message ends with ``note``."""
    message = f"{failure}{note}"
    if isinstance(failure, ReplicationError):
        return ReplicationError(
            message, job_id=failure.job_id, acknowledged=failure.acknowledged, wanted=failure.wanted
        )
    if isinstance(failure, RedisRefusedError):
        return type(failure)(message, code=failure.code, reply=failure.reply)
    return type(failure)(message)
