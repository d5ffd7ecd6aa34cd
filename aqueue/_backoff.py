"""The one retry policy of every loop that talks to Redis: capped exponential backoff, full jitter.

When Redis restarts, fails over or runs out of memory, every worker's loops fail at the same moment;
with plain doubling they would all retry in lockstep, hitting the recovering server in waves. The
n-th delay in a row here is drawn uniformly between ``base_s`` and ``base_s * 2**n`` (capped at
``cap_s``): "full jitter", which spreads a fleet's retries over the whole window while the window
still grows exponentially. ``random`` is reseeded in every forked child, so processes draw different
delays.

Early in an outage the ceiling stays low (``brisk_cap_s``, 0.5 s, for the first ``brisk_s``, 60 s):
a Sentinel failover or a restart is over within that (Sentinel's default detection alone is 30 s),
and a loop whose window had doubled to seconds would notice the new primary seconds late. Capped,
it resumes a quarter of a second after the switch on average; an outage that lasts longer than
``brisk_s`` backs off to ``cap_s`` as before.

:class:`Backoff` also keeps the log quiet: the first failure of a kind is logged (a warning with the
translated Redis error, or a traceback for anything else), repeats are DEBUG, and the recovery is
logged once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from aqueue._redis.errors import REDIS_ERRORS, redis_failure

__all__ = ["Backoff", "every"]

BASE_S = 0.05
CAP_S = 5.0
BRISK_S = 60.0
BRISK_CAP_S = 0.5


class Backoff:
    """Retry delays and once-per-outage logging for one loop (``what`` names it in the log).

    ``where`` is the Redis address the messages name; ``brisk_s`` and ``brisk_cap_s``: see the module.
    """

    def __init__(
        self,
        what: str,
        logger: logging.Logger,
        *,
        where: str = "",
        base_s: float = BASE_S,
        cap_s: float = CAP_S,
        brisk_s: float = BRISK_S,
        brisk_cap_s: float = BRISK_CAP_S,
    ) -> None:
        if not 0 < base_s <= cap_s:
            raise ValueError(f"need 0 < base_s <= cap_s, got {base_s} and {cap_s}")
        self.what, self.logger, self.where = what, logger, where
        self.base_s, self.cap_s = base_s, cap_s
        self.brisk_s, self.brisk_cap_s = brisk_s, max(base_s, brisk_cap_s)
        self._since = 0.0  # when the current run of failures began (monotonic)
        self.delay_s = 0.0
        self.attempts = 0
        self._kind: tuple[str, str] | None = None

    @property
    def failing(self) -> bool:
        """Return whether the last attempt failed."""
        return self._kind is not None

    def failed(self, error: BaseException) -> float:
        """Note a failed attempt (logged if its kind is new) and return how long to wait before the next."""
        kind, text = self._describe(error)
        if kind != self._kind:
            if isinstance(error, REDIS_ERRORS):
                self.logger.warning("%s failed, retrying with backoff: %s", self.what, text)
            else:
                self.logger.error("%s failed; retrying with backoff", self.what, exc_info=error)
            self._kind = kind
        else:
            self.logger.debug("%s failed again: %s", self.what, text)
        if self.attempts == 0:
            self._since = time.monotonic()
        self.attempts += 1
        ceiling = self.cap_s if self.attempts > 60 else min(self.cap_s, self.base_s * 2**self.attempts)
        if time.monotonic() - self._since < self.brisk_s:
            ceiling = min(ceiling, self.brisk_cap_s)
        self.delay_s = random.uniform(self.base_s, ceiling)
        return self.delay_s

    def succeeded(self) -> None:
        """Note a successful attempt: log the recovery if it follows failures, and start over."""
        if self._kind is not None:
            self.logger.info("%s: Redis accepts commands again", self.what)
        self._kind = None
        self.delay_s = 0.0
        self.attempts = 0

    def _describe(self, error: BaseException) -> tuple[tuple[str, str], str]:
        if not isinstance(error, REDIS_ERRORS):
            return (type(error).__name__, ""), f"{type(error).__name__}: {error}"
        failure = redis_failure(error, self.where)
        return (type(failure).__name__, getattr(failure, "code", "")), str(failure)


async def every(
    interval_s: float, step: Callable[[], Awaitable[object]], backoff: Backoff, *, at_start: bool = False
) -> None:
    """Run ``step`` every ``interval_s`` seconds until cancelled: the one periodic-loop helper.

    ``at_start``: the first step runs at once, not after one interval. A step that fails with a Redis
    error is logged through ``backoff`` (once per outage) and tried again at the next tick: for a
    periodic task the cadence is the retry. Anything else propagates.
    """
    wait = not at_start
    while True:
        if wait:
            await asyncio.sleep(interval_s)
        wait = True
        try:
            await step()
        except REDIS_ERRORS as error:
            backoff.failed(error)
        else:
            backoff.succeeded()
