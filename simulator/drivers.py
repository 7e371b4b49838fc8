"""Who drives which vehicle: a shift roster over a pool of drivers, and their driver cards.

A day has two 12-hour shifts in Lisbon time: day (06:00-18:00) and night (18:00-06:00, which
belongs to the day it starts). Vehicles ``2k`` and ``2k + 1`` share a crew of four drivers,
rotated one slot a day over the four shifts the pair has each day. So two drivers alternate
on each vehicle, and a driver who drove one vehicle yesterday drives the other one today.
The roster depends only on the seed, the vehicle index and the time, so a vehicle behaves
the same whatever the fleet size.
"""

from __future__ import annotations

import functools
import random
from datetime import datetime

from simulator.timefmt import LOCAL_ZONE

DAY_SHIFT_STARTS = 6
NIGHT_SHIFT_STARTS = 18
CREW = 4
"""Drivers per pair of vehicles."""


@functools.lru_cache(maxsize=1024)
def _shift_of_hour(hour_start: int) -> tuple[int, int]:
    local = datetime.fromtimestamp(hour_start, LOCAL_ZONE)
    day = local.date().toordinal()
    if local.hour < DAY_SHIFT_STARTS:
        return day - 1, 1
    return day, 0 if local.hour < NIGHT_SHIFT_STARTS else 1


def shift_of(t: float) -> tuple[int, int]:
    """``(local day ordinal, shift)`` at ``t``: shift 0 is the day shift, 1 the night one."""
    return _shift_of_hour(int(t) // 3600 * 3600)


def driver_number(vehicle_index: int, t: float) -> int:
    """The number (within the fleet) of the driver on duty on vehicle ``vehicle_index``."""
    day, shift = shift_of(t)
    pair, side = divmod(vehicle_index, 2)
    slot = side + 2 * shift
    return CREW * pair + (slot + day) % CREW


@functools.lru_cache(maxsize=4096)
def driver_card(seed: int, number: int) -> str:
    """Driver ``number``'s card (``dcl``): 16 digits with leading zeros, unique in a fleet."""
    serial = random.Random(f"{seed}/driver/{number}").randrange(10**7)
    return f"000{serial:07d}{number:06d}"
