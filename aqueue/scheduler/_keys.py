"""The scheduler's Redis keys, under the queue's prefix (``arq:`` by default).

=====================================  ======  ===================================================
key                                    type    holds
=====================================  ======  ===================================================
``{p}cron:jobs``                       set     names of the cron jobs workers have registered
``{p}cron:job:{name}``                 hash    one cron job: definition, next run, last run and
                                               outcome, counters, pause flag, buffered slot
``{p}cron:slot:{name}:{slot_ms}``      string  the claim of one slot (value: the claiming worker),
                                               expiring after ``catchup_window`` + 1 day
=====================================  ======  ===================================================

The Lua scripts (``aqueue/_lua/cron_*.lua``) derive the same names from the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aqueue._redis.keys import DEFAULT_PREFIX, Keys


@dataclass(frozen=True, slots=True)
class CronKeys:
    """Builds the scheduler's key names from the core :class:`Keys`."""

    keys: Keys = field(default_factory=lambda: Keys(DEFAULT_PREFIX))

    @property
    def prefix(self) -> str:
        """Return the key prefix (the scripts take it as their first argument)."""
        return self.keys.prefix

    @property
    def index(self) -> str:
        """Return the set of registered cron job names."""
        return self.keys.scoped("cron", "jobs")

    def job(self, name: str) -> str:
        """Return the registry hash of cron job ``name``."""
        return self.keys.scoped("cron", "job", name)

    def slot(self, name: str, slot_ms: int) -> str:
        """Return the claim key of one slot of cron job ``name``."""
        return self.keys.scoped("cron", "slot", name, str(slot_ms))
