"""The three peers compared: aqueue, arq with its default poll (0.5 s) and arq polling every 10 ms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Peer:
    key: str
    label: str
    impl: str  # "aqueue" or "arq"
    poll_delay: float | None  # None: the library default
    queue_key: str

    @property
    def queue_name(self) -> str:
        """Return the queue name as the library's Worker/Client takes it: the whole key.

        A key that starts with the prefix means the same key to every aqueue version (A/B runs
        against older refs, which put a short name under ``arq:queue:``) and to arq.
        """
        return self.queue_key


AQUEUE = Peer("aqueue", "aqueue", "aqueue", None, "arq:queue:bench")
ARQ = Peer("arq", "arq default (poll 0.5 s)", "arq", None, "arq:queue:bench-arq")
ARQ10 = Peer("arq10", "arq poll 10 ms", "arq", 0.01, "arq:queue:bench-arq")
PEERS = (AQUEUE, ARQ, ARQ10)
