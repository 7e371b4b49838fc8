"""The reconnect policy: capped exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays between reconnect attempts: ``initial * factor**n``, capped, with jitter.

    Jitter scales each delay by a random factor in ``[1 - jitter, 1]`` so that many
    clients dropped together by a server restart do not reconnect in lockstep.
    Call :meth:`reset` once a connection has proven stable.
    """

    initial_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 60.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        base = min(self.cap_s, self.initial_s * self.factor ** min(self.attempt, 64))
        self.attempt += 1
        return base * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        """Start again from the initial delay."""
        self.attempt = 0
