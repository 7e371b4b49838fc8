"""Deterministic identifiers shaped like the server's (MongoDB ObjectId-style hex strings)."""

from __future__ import annotations

import random


class IdMaker:
    """Makes unique ids from a seeded generator: same seed and calls, same ids.

    An ObjectId is 12 bytes: 4 of time, 5 of per-process randomness, 3 of counter; the
    manual's ``_id``/``hid`` values look exactly like that, so these do too.
    """

    def __init__(self, rng: random.Random) -> None:
        self._process = f"{rng.getrandbits(40):010x}"
        self._counter = rng.getrandbits(24)

    def object_id(self, t: float) -> str:
        """A 24-hex-digit id whose first 8 digits are the time ``t`` in seconds."""
        self._counter = (self._counter + 1) & 0xFFFFFF
        return f"{int(t) & 0xFFFFFFFF:08x}{self._process}{self._counter:06x}"

    def service_id(self, t: float) -> str:
        """A 22-hex-digit id like the manual's service ``exd.evt.id``."""
        self._counter = (self._counter + 1) & 0xFFFFFF
        return f"{int(t) & 0xFFFFFFFF:08x}{self._process}{self._counter & 0xFFFF:04x}"

