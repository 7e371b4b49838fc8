"""Simulated time: runs ``speedup`` times faster than the wall clock, pauses when asked.

The server pauses it while no client is authenticated, so a client that reconnects misses
nothing. At infinite speedup time only moves when frames are taken (``advance_to``).
"""

from __future__ import annotations

import math
import time


class SimClock:
    """Maps wall time to simulated time (epoch seconds)."""

    def __init__(self, start: float, speedup: float) -> None:
        if not speedup > 0:
            raise ValueError("speedup must be positive")
        self.speedup = speedup
        self._sim_anchor = start
        self._wall_anchor: float | None = None

    @property
    def running(self) -> bool:
        """True unless paused."""
        return self._wall_anchor is not None

    def now(self) -> float:
        """The current simulated time."""
        if self._wall_anchor is None or math.isinf(self.speedup):
            return self._sim_anchor
        return self._sim_anchor + (time.monotonic() - self._wall_anchor) * self.speedup

    def pause(self) -> None:
        """Stop simulated time where it is."""
        self._sim_anchor = self.now()
        self._wall_anchor = None

    def resume(self) -> None:
        """Let simulated time run again from where it stopped."""
        if self._wall_anchor is None:
            self._wall_anchor = time.monotonic()

    def advance_to(self, t: float) -> None:
        """At infinite speedup: simulated time jumps forward to ``t``."""
        if math.isinf(self.speedup) and t > self._sim_anchor:
            self._sim_anchor = t

    def wall_seconds_until(self, t: float) -> float:
        """Wall seconds until simulated time reaches ``t`` (0 if it already has)."""
        if math.isinf(self.speedup):
            return 0.0
        return max(0.0, (t - self.now()) / self.speedup)
