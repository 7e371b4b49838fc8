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



SEED_LIMIT = 10**12
"""Seeds run from ``-SEED_LIMIT + 1`` to ``SEED_LIMIT``: every fleet gets its own id block."""
MAX_VEHICLES = 100_000
"""The most vehicles one fleet can have (the size of a fleet's id block)."""
_BLOCK = 1_000_000
_FIRST_UID = 1001
_FIRST_VID = 800_000


def fleet_block(seed: int) -> int:
    """The id block of a seed: ``seed - 1`` for seeds from 1, above all of those for the rest.

    Distinct seeds get distinct blocks, so two fleets never share a uid or a vid; seed 1
    keeps the block 0 (uids 1001, 1002, ...).
    """
    if not -SEED_LIMIT < seed <= SEED_LIMIT:
        raise ValueError(f"the seed must be between {-SEED_LIMIT + 1} and {SEED_LIMIT}")
    return seed - 1 if seed >= 1 else SEED_LIMIT - seed


def vehicle_uid(seed: int, index: int) -> int:
    """The device (unit) id of vehicle ``index`` of the fleet of ``seed``."""
    _check_index(index)
    return fleet_block(seed) * _BLOCK + _FIRST_UID + index


def vehicle_vid(seed: int, index: int) -> int:
    """The vehicle id of vehicle ``index`` of the fleet of ``seed``."""
    _check_index(index)
    return fleet_block(seed) * _BLOCK + _FIRST_VID + index


def seed_of_vid(vid: int) -> int | None:
    """The seed whose fleet has vehicle id ``vid``, or None when no fleet has it."""
    block, rest = divmod(vid, _BLOCK)
    if not _FIRST_VID <= rest < _FIRST_VID + MAX_VEHICLES or block > 2 * SEED_LIMIT:
        return None
    return block + 1 if block < SEED_LIMIT else SEED_LIMIT - block


def _check_index(index: int) -> None:
    if not 0 <= index < MAX_VEHICLES:
        raise ValueError(f"a fleet has at most {MAX_VEHICLES} vehicles")
