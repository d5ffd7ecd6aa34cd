"""Every Redis key aqueue reads or writes, from one helper.

The layout is arq's, so plain arq producers and workers interoperate with aqueue ones:

=========================  ================================  =========================================
key                        type                              holds
=========================  ================================  =========================================
``{p}queue``               sorted set                        default queue: job id → run-at ms
``{p}queue:{name}``        sorted set                        a named queue (under arq's prefix: ``{name}``)
``{p}job:{id}``            string                            the job envelope (``f a k t et``)
``{p}in-progress:{id}``    string, expiring                  the running attempt's fencing token
``{p}retry:{id}``          string (counter)                  arq's try counter (aqueue: from the 2nd try)
``{p}deliveries``          hash                              job id → ``try worker@ms …``: its newest
                                                             try, its deliveries without an outcome
``{p}result:{id}``         string, expiring                  the result envelope
``{p}abort``               sorted set                        ids asked to abort → request ms
``{p}done:{id}``           pub/sub channel                   announces that a result was written
``{p}listening``           string, expiring                  a client waits for results: announce them
``{p}idle:{queue}``        set                               workers blocked waiting for work
``{p}idle-paused:{queue}`` set                               idle workers of a paused queue (resume wakes)
``{p}paused``              set                               paused queues (queue keys)
``{p}ready:{queue}``       sorted set                        due jobs of priority 1-9 (``_priority``)
``{p}ready-seq:{queue}``   string (counter)                  FIFO order of jobs entering the ready set
``{p}delayed:{queue}``     sorted set                        deferred jobs of priority 1-9
``{p}leased:{queue}``      sorted set                        claimed jobs of priority 1-9
``{p}wake:{worker}``       list, expiring                    one worker's wake-up signal
``{p}armed:{worker}``      string, expiring                  a worker on several queues may get a handoff
``{p}dead``                sorted set                        dead-lettered ids → time
``{p}dead:{id}``           hash                              a dead job's envelope and history
``{p}worker:{id}``         hash, expiring                    a live worker's heartbeat
``{p}tally:{id}``          hash, expiring                    what a worker's scripts counted (metrics)
``{p}workers``             sorted set                        worker id → its last heartbeat ms
``{p}progress:{id}``       string, expiring; channel         a job's latest progress report
``{p}unique:{key}``        string, expiring                  ``L{id}``: job id holds unique key; ``F{id}``: it
                                                             ended, held for ``_unique_for`` (throttle)
``{p}uniques``             hash                              job id → its unique key, queue, unique_for
``{p}events:{queue}``      stream, capped (approximately)    the queue's job lifecycle events
``{p}group:{queue}⏎{g}``   sorted set                        the jobs of group ``g`` (``_group``) → run-at ms
``{p}groups:{queue}``      sorted set                        groups with jobs → their turn (round robin)
``{p}limits``              hash                              task → its flow limits (aqueue.limits)
``{p}slots:{scope}``       sorted set                        running attempts of a limit scope → lease end
``{p}starts:{scope}``      sorted set                        starts in a rate window (``id:try`` → ms)
``{p}held``                hash                              job id → the limit scopes it holds a slot of
``{p}wait:{queue}⏎{scope}`` sorted set                       jobs a limit holds back, in arrival order
``{p}blocked:{queue}``     sorted set                        scope → when its held-back jobs may run
``{p}waiting``             hash                              held-back job id → why, queue and scope
``{p}wf:{run}…``           hashes                            workflow runs (see aqueue.workflows)
``{p}cron:…``              strings, hashes                   cron slot claims and registry
=========================  ================================  =========================================

``{p}`` is the prefix, ``arq:`` by default. The scores of the priority sets are in
:mod:`aqueue._priority`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "arq:"


@dataclass(frozen=True, slots=True)
class Keys:
    """Builds key names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def queue(self, name: str | None = None) -> str:
        """Return the sorted-set key of queue ``name`` (the default queue, ``{p}queue``, when None).

        Under arq's prefix (the default) a queue name is its own key, as in arq: ``"fast"`` is the key
        ``fast``, so arq producers and workers agree with aqueue ones on every queue. Under a prefix of
        your own a name lives under it (``"fast"`` is ``{p}queue:fast``) unless it already starts with
        the prefix; plain arq cannot share such a layout anyway (its keys are ``arq:…``).
        """
        if not name:
            return f"{self.prefix}queue"
        if self.prefix == DEFAULT_PREFIX or name.startswith(self.prefix):
            return name
        return f"{self.prefix}queue:{name}"

    def job(self, job_id: str) -> str:
        """Return the key of a job's envelope."""
        return f"{self.prefix}job:{job_id}"

    def in_progress(self, job_id: str) -> str:
        """Return the key that marks a job as running and holds its fencing token."""
        return f"{self.prefix}in-progress:{job_id}"

    def retry(self, job_id: str) -> str:
        """Return arq's try counter of a job (aqueue's workers write it from a job's second try on)."""
        return f"{self.prefix}retry:{job_id}"

    @property
    def deliveries(self) -> str:
        """Return the hash: job id → its newest try, then its deliveries without an outcome (``worker@ms``).

        The fields are space-separated; :func:`tries_started` reads the try.
        """
        return f"{self.prefix}deliveries"

    def progress(self, job_id: str) -> str:
        """Return the key (and pub/sub channel) of a job's latest progress."""
        return f"{self.prefix}progress:{job_id}"

    def events(self, queue_key: str) -> str:
        """Return the capped stream of a queue's job lifecycle events (``queue_key``: the queue's key)."""
        return f"{self.prefix}events:{queue_key}"

    def result(self, job_id: str) -> str:
        """Return the key of a job's result envelope."""
        return f"{self.prefix}result:{job_id}"

    @property
    def abort(self) -> str:
        """Return the sorted set of ids asked to abort."""
        return f"{self.prefix}abort"

    def done_channel(self, job_id: str) -> str:
        """Return the pub/sub channel announcing a job's result."""
        return f"{self.prefix}done:{job_id}"

    @property
    def listening(self) -> str:
        """Return the key that says a client waits for results (finish scripts publish ``done`` then)."""
        return f"{self.prefix}listening"

    def idle(self, queue_key: str) -> str:
        """Return the set of workers blocked waiting on ``queue_key``."""
        return f"{self.prefix}idle:{queue_key}"

    def idle_paused(self, queue_key: str) -> str:
        """Return the set of workers idle on ``queue_key`` while it is paused (no handoff goes to them)."""
        return f"{self.prefix}idle-paused:{queue_key}"

    @property
    def paused(self) -> str:
        """Return the set of paused queue keys."""
        return f"{self.prefix}paused"

    def ready(self, queue_key: str) -> str:
        """Return the sorted set of due jobs of priority 1-9 on ``queue_key`` (highest first, then FIFO)."""
        return f"{self.prefix}ready:{queue_key}"

    def ready_seq(self, queue_key: str) -> str:
        """Return the counter giving jobs entering the ready set their FIFO order."""
        return f"{self.prefix}ready-seq:{queue_key}"

    def delayed(self, queue_key: str) -> str:
        """Return the sorted set of deferred jobs of priority 1-9 on ``queue_key`` (run-at ms * 16 + p)."""
        return f"{self.prefix}delayed:{queue_key}"

    def leased(self, queue_key: str) -> str:
        """Return the sorted set of claimed jobs of priority 1-9 (next check ms * 16 + p).

        A claimed job sits in the queue at its lease end, as every claimed job does; this entry keeps
        its priority, so that if its lease lapses (its worker died) or it is retried, it comes back
        into the ready set with that priority.
        """
        return f"{self.prefix}leased:{queue_key}"

    def wake(self, worker_id: str) -> str:
        """Return the list a worker blocks on while idle."""
        return f"{self.prefix}wake:{worker_id}"

    @property
    def dead(self) -> str:
        """Return the sorted set of dead-lettered job ids."""
        return f"{self.prefix}dead"

    def dead_job(self, job_id: str) -> str:
        """Return the hash keeping a dead job's envelope and history."""
        return f"{self.prefix}dead:{job_id}"

    def health(self, queue_key: str) -> str:
        """Return arq's health-check key for a queue."""
        return f"{queue_key}:health-check"

    def worker(self, worker_id: str) -> str:
        """Return the hash describing a live worker."""
        return f"{self.prefix}worker:{worker_id}"

    def unique(self, key: str) -> str:
        """Return the key naming the job that holds unique key ``key`` (see ``unique_lib.lua``)."""
        return f"{self.prefix}unique:{key}"

    @property
    def uniques(self) -> str:
        """Return the hash: job id → its unique key, queue and unique_for (JSON ``k q f``)."""
        return f"{self.prefix}uniques"

    def tally(self, worker_id: str) -> str:
        """Return the hash of what a worker's scripts counted for its metrics (dead letters, runs)."""
        return f"{self.prefix}tally:{worker_id}"

    def group(self, queue_key: str, group: str) -> str:
        """Return the sorted set of the jobs of ``group`` waiting on ``queue_key`` (run-at ms)."""
        return f"{self.prefix}group:{queue_key}\n{group}"

    def groups(self, queue_key: str) -> str:
        """Return the sorted set of ``queue_key``'s groups with jobs, by turn (``group_lib.lua``)."""
        return f"{self.prefix}groups:{queue_key}"

    def limits(self) -> str:
        """Return the hash: task name → its flow limits (``aqueue/limits/limits.lua``)."""
        return f"{self.prefix}limits"

    def waiting(self) -> str:
        """Return the hash: job id held back by a limit → ``why⏎queue⏎scope``."""
        return f"{self.prefix}waiting"

    def wait(self, queue_key: str, scope: str) -> str:
        """Return the sorted set of jobs of ``queue_key`` a limit ``scope`` holds back."""
        return f"{self.prefix}wait:{queue_key}\n{scope}"

    def blocked(self, queue_key: str) -> str:
        """Return the sorted set: limit scope with held-back jobs on ``queue_key`` → next check ms."""
        return f"{self.prefix}blocked:{queue_key}"

    def slots(self, scope: str) -> str:
        """Return the sorted set of attempts running in a limit scope → their lease end."""
        return f"{self.prefix}slots:{scope}"

    @property
    def workers(self) -> str:
        """Return the sorted set of workers by last heartbeat (so nothing scans for worker hashes)."""
        return f"{self.prefix}workers"

    def scoped(self, *parts: str) -> str:
        """Return a key for an extension (workflows, scheduler) under the prefix."""
        return self.prefix + ":".join(parts)


def tries_started(counter: bytes | None, history: bytes | None) -> int:
    """Return how many tries of a job have started: from its ``retry`` counter and ``deliveries`` field.

    The higher of the two counts (an arq worker counts in the counter only; aqueue's workers leave a
    first try out of it and record each delivery's try in the history), as the claim script does.
    """
    return max(int(counter or 0), _history(history)[0])


def with_newest_try(history: bytes | None, job_try: int) -> bytes:
    """Return a ``deliveries`` field whose newest try is ``job_try``, its entries kept."""
    return b"%d %s" % (job_try, _history(history)[1])


def _history(history: bytes | None) -> tuple[int, bytes]:
    """Split a ``deliveries`` field into its newest try (0: none recorded) and its entries."""
    if not history:
        return 0, b""
    head, _, rest = history.partition(b" ")
    return (int(head), rest) if head.isdigit() else (0, history)  # entries only: an earlier aqueue's
