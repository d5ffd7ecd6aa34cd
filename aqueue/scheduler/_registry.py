"""The live registry: what workers publish about their cron jobs, and pause/resume/trigger.

Each cron job has one hash, ``{p}cron:job:{name}``, listed in the set ``{p}cron:jobs`` (see
:mod:`aqueue.scheduler._keys` for its fields). Workers write the definition when they start, the
runner writes claims and next runs, the worker's outcome observer writes how runs ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from aqueue._clock import iso_utc, now_ms
from aqueue._envelope import encode_job
from aqueue._redis.connection import text
from aqueue._redis.errors import redis_errors
from aqueue.errors import ConfigurationError, CronJobNotFound
from aqueue.scheduler._definition import CronJob
from aqueue.scheduler._keys import CronKeys
from aqueue.scheduler._scripts import CronState, CronStateArgs, CronTrigger, CronTriggerArgs
from aqueue.scheduler._zones import resolve_zone, slot_id

if TYPE_CHECKING:
    from aqueue.client import Client
    from aqueue.jobs import Job

#: Extra lifetime of a cron run's job key beyond its run time (arq's default ``expires_extra_ms``).
JOB_TTL_EXTRA_MS = 86_400_000


def job_id_prefix(job: CronJob) -> str:
    """Return the prefix of a cron job's run ids: ``job_id_prefix`` or ``cron:{name}``."""
    return job.job_id_prefix or f"cron:{job.name}"


def definition_fields(job: CronJob, queue: str, serializer: Callable[[Any], bytes]) -> dict[str, Any]:
    """Return the registry fields a worker writes for ``job`` (its definition, not its state)."""
    return {
        "schedule": job.schedule,
        "tz": job.tz_name,
        "task": job.task,
        "queue": queue,
        "missed_policy": job.missed,
        "overlap_policy": job.overlap,
        "id_prefix": job_id_prefix(job),
        "call": serializer({"a": list(job.args), "k": dict(job.kwargs)}),
    }


async def register_jobs(
    redis: Redis,
    keys: CronKeys,
    jobs: Iterable[tuple[CronJob, str]],
    serializer: Callable[[Any], bytes],
    now: datetime,
) -> None:
    """Publish (job, queue key) pairs to the registry; runtime state (last run, pause) is kept."""
    async with redis.pipeline(transaction=True) as pipe:
        for job, queue in jobs:
            fields = definition_fields(job, queue, serializer)
            upcoming = job.next_run(now)
            fields["next_run_ms"] = "" if upcoming is None else slot_id(upcoming)
            fields["seen_ms"] = slot_id(now)
            pipe.hset(keys.job(job.name), mapping=fields)
            pipe.sadd(keys.index, job.name)
        await pipe.execute()


def _moment(value: str, zone: tzinfo) -> datetime | None:
    return datetime.fromtimestamp(int(value) / 1000, UTC).astimezone(zone) if value else None


def _zone(name: str) -> tzinfo:
    try:
        return resolve_zone(name or None)
    except ConfigurationError:
        return UTC


@dataclass(frozen=True, slots=True)
class CronEntry:
    """One cron job as the registry holds it. Times are aware, in the job's zone."""

    name: str
    schedule: str
    tz: str
    task: str
    queue: str
    next_run: datetime | None
    last_run: datetime | None
    last_outcome: str | None
    last_duration: timedelta | None
    runs: int
    missed: int
    skipped: int
    triggered: int
    paused: bool

    @classmethod
    def from_hash(cls, name: str, raw: Mapping[bytes | str, bytes | str]) -> CronEntry:
        """Build an entry from a registry hash (as HGETALL returns it)."""
        h = {text(k): text(v) for k, v in raw.items()}
        zone = _zone(h.get("tz", ""))
        duration = h.get("last_duration_ms", "")
        return cls(
            name=name,
            schedule=h.get("schedule", ""),
            tz=h.get("tz", ""),
            task=h.get("task", ""),
            queue=h.get("queue", ""),
            next_run=_moment(h.get("next_run_ms", ""), zone),
            last_run=_moment(h.get("last_run_ms", ""), zone),
            last_outcome=h.get("last_outcome") or None,
            last_duration=timedelta(milliseconds=int(duration)) if duration else None,
            runs=int(h.get("runs") or 0),
            missed=int(h.get("missed") or 0),
            skipped=int(h.get("skipped") or 0),
            triggered=int(h.get("triggered") or 0),
            paused=h.get("paused") == "1",
        )

    def to_record(self) -> dict[str, Any]:
        """Return a JSON-ready dict (times in ISO 8601, in UTC; duration in seconds)."""
        return {
            "name": self.name,
            "schedule": self.schedule,
            "tz": self.tz,
            "task": self.task,
            "queue": self.queue,
            "next_run": iso_utc(self.next_run),
            "last_run": iso_utc(self.last_run),
            "last_outcome": self.last_outcome,
            "last_duration_s": self.last_duration.total_seconds() if self.last_duration else None,
            "runs": self.runs,
            "missed": self.missed,
            "skipped": self.skipped,
            "triggered": self.triggered,
            "paused": self.paused,
        }


async def read_entries(redis: Redis, keys: CronKeys) -> list[CronEntry]:
    """Return every registered cron job, sorted by name."""
    names = sorted(text(n) for n in await redis.smembers(keys.index))  # type: ignore[misc]
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(keys.job(name))
        hashes = await pipe.execute()
    return [CronEntry.from_hash(n, h) for n, h in zip(names, hashes, strict=True) if h]


def _cron_keys(client: Client) -> CronKeys:
    return CronKeys(client.keys)


async def list_jobs(client: Client) -> list[CronEntry]:
    """Return the cron jobs live workers have registered, sorted by name."""
    with redis_errors(client.address):
        return await read_entries(client.redis, _cron_keys(client))


async def _set_paused(client: Client, name: str, paused: bool) -> None:
    keys = _cron_keys(client)
    args = CronStateArgs(prefix=keys.prefix, name=name, paused=paused)
    with redis_errors(client.address):
        done = await client.scripts.get(CronState)(args)
    if not done:
        raise CronJobNotFound(f"no cron job named {name!r} is registered (is a worker running it?)")


async def pause(client: Client, name: str) -> None:
    """Pause cron job ``name``: its slots are claimed but not run (they count as missed).

    Raises:
        CronJobNotFound: no worker registered a cron job by that name.

    """
    await _set_paused(client, name, True)


async def resume(client: Client, name: str) -> None:
    """Resume a paused cron job from its next slot (paused slots are not caught up).

    Raises:
        CronJobNotFound: no worker registered a cron job by that name.

    """
    await _set_paused(client, name, False)


async def trigger(client: Client, name: str) -> Job[Any]:
    """Run cron job ``name`` now, once, whatever its schedule or pause; return the run's Job.

    The run's ``ctx["scheduled_time"]`` is the trigger time. Its arguments are read from the
    registry with the client's deserializer (so it must match the workers' serializer).

    Raises:
        CronJobNotFound: no worker registered a cron job by that name.

    """
    keys = _cron_keys(client)
    with redis_errors(client.address):
        fields = await client.redis.hmget(keys.job(name), ["task", "queue", "call", "id_prefix"])  # type: ignore[misc]
    task, queue, call, prefix = (text(f) for f in fields)
    if not task:
        raise CronJobNotFound(f"no cron job named {name!r} is registered (is a worker running it?)")
    now = now_ms()
    decoded = client.job_deserializer(fields[2]) if call else {"a": [], "k": {}}
    job_id = f"{prefix or 'cron:' + name}:manual:{now}"
    payload = encode_job(
        client.job_serializer,
        task,
        decoded["a"],
        decoded["k"],
        job_try=None,
        enqueue_ms=now,
        extra={"cron": [name, now]},
    )
    args = CronTriggerArgs(
        prefix=keys.prefix,
        name=name,
        now_ms=now,
        job_id=job_id,
        payload=payload,
        queue=queue,
        job_ttl_ms=JOB_TTL_EXTRA_MS,
    )
    with redis_errors(client.address):
        triggered = await client.scripts.get(CronTrigger)(args)
    if not triggered:
        raise CronJobNotFound(f"no cron job named {name!r} is registered (is a worker running it?)")
    return client.job(job_id, queue)
