"""Records outcomes in batches: one Lua call per batch, retried while Redis is away or refuses writes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from aqueue._backoff import Backoff
from aqueue._redis.errors import REDIS_ERRORS
from aqueue._worker.queue_ops import QueueOps
from aqueue._worker.types import ClaimedJob, Outcome
from aqueue.extensions import WorkerExtension

logger = logging.getLogger("aqueue.worker")


class Finisher:
    """Collects outcomes from running jobs and records them, pipelined under load.

    An outcome that one of ``extensions`` handles is recorded by it (atomically with its own state);
    the rest go through the core finish script. An outcome Redis cannot take (unreachable, out of
    memory, a read-only replica, …) waits here and is recorded once Redis takes writes again, or
    fenced if another worker claimed its job meanwhile. ``where`` names the server in its log lines;
    ``note`` makes the text the core finish script's ``on_finish_batch`` hooks get about a batch;
    ``ended`` is told of the outcomes each call recorded, before their futures resolve.
    """

    def __init__(
        self,
        ops: QueueOps,
        extensions: Sequence[WorkerExtension] = (),
        *,
        capacity: Callable[[], int | None] = lambda: None,
        start: Callable[[Sequence[ClaimedJob], float], None] | None = None,
        where: str = "",
        note: Callable[[Sequence[Outcome]], bytes] | None = None,
        ended: Callable[[Sequence[Outcome]], None] | None = None,
    ) -> None:
        self.ops = ops
        self.extensions = list(extensions)
        self.note = note
        self.ended = ended
        self.capacity = capacity
        self.start = start
        self._pending: list[tuple[Outcome, asyncio.Future[bool]]] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._give_up_at: float | None = None
        self._backoff = Backoff("recording results", logger, where=where)

    def submit(self, outcome: Outcome) -> asyncio.Future[bool]:
        """Queue ``outcome`` for recording; the future resolves to whether it was recorded."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((outcome, future))
        self._wakeup.set()
        return future

    def close(self, give_up_after_s: float | None = None) -> None:
        """Ask :meth:`run` to return once everything pending is recorded.

        If Redis still refuses them ``give_up_after_s`` seconds from now, they are dropped instead
        (their futures resolve to False): their jobs' leases lapse and the jobs run again elsewhere,
        and a worker asked to stop does stop while Redis is away.
        """
        self._closing = True
        if give_up_after_s is not None:
            self._give_up_at = time.monotonic() + give_up_after_s
        self._wakeup.set()

    async def run(self) -> None:
        """Record batches as they come until closed and drained."""
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch, self._pending = self._pending, []
            try:
                await self._record(batch)
            except REDIS_ERRORS as e:
                self._pending = [item for item in batch if not item[1].done()] + self._pending
                if self._giving_up():
                    return
                await asyncio.sleep(self._backoff.failed(e))
                continue
            self._backoff.succeeded()

    def _giving_up(self) -> bool:
        """Drop what is pending if closing and past the deadline; return whether it did."""
        if self._give_up_at is None or time.monotonic() < self._give_up_at:
            return False
        logger.warning(
            "stopping with %d results Redis did not take; their jobs will run again", len(self._pending)
        )
        pending, self._pending = self._pending, []
        for _, future in pending:
            if not future.done():
                future.set_result(False)
        return True

    def _recorder(self, outcome: Outcome) -> int:
        """Return the index of the extension that records ``outcome``, or -1 for the core."""
        envelope = outcome.envelope
        if envelope is None or not envelope.extra:  # a plain job: no extension's fields, the core's
            return -1
        return next((i for i, ext in enumerate(self.extensions) if ext.handles(outcome)), -1)

    async def _record(self, batch: list[tuple[Outcome, asyncio.Future[bool]]]) -> None:
        groups: dict[int, list[tuple[Outcome, asyncio.Future[bool]]]] = {}
        for item in batch:
            groups.setdefault(self._recorder(item[0]), []).append(item)
        for index, items in groups.items():
            outcomes = [o for o, _ in items]
            if index < 0:
                done = await self.ops.finish(outcomes, self.note)
            else:
                free = self.capacity()  # None: stopping, take nothing new
                limit = 0 if free is None else free + len(outcomes)
                # follow-up jobs claimed on the way start with the time they were asked for
                sent = time.monotonic()
                done, claimed = await self.extensions[index].finish(outcomes, limit)
                if claimed and self.start is not None:
                    self.start(claimed, sent)
            if self.ended is not None:
                recorded_ones = [o for o, recorded in zip(outcomes, done, strict=True) if recorded]
                if recorded_ones:
                    self.ended(recorded_ones)
            for (outcome, future), recorded in zip(items, done, strict=True):
                if not recorded:
                    logger.warning(
                        "job %s: claim was taken over; its outcome is discarded", outcome.job.job_id
                    )
                if not future.done():
                    future.set_result(recorded)
