"""Invariants of the fleet model for any seed (hypothesis)."""

from __future__ import annotations

import itertools
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simulator_test_client import START

from simulator.fleet import Fleet


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), vehicles=st.integers(1, 6))
def test_any_fleet_is_ordered_consistent_and_alternating(seed: int, vehicles: int) -> None:
    fleet = Fleet(vehicles, seed, START)
    messages = list(itertools.islice(fleet.messages(), 1500))
    emits = [m.emit for m in messages]
    assert emits == sorted(emits)
    horizon = emits[-1]
    for trip in fleet.truth.trips:
        assert abs(trip["odometer_delta_m"] - trip["distance_m"]) <= 1
        assert trip["start"] <= trip["motion_start"] <= trip["arrival"] <= trip["end"]
    levels: dict[tuple[int, int], list[int]] = defaultdict(list)
    for change in fleet.truth.io_changes:
        if change["tmx"] <= horizon:
            levels[(change["vid"], change["io"])].append(change["to_value"])
    for sequence in levels.values():
        assert all(a != b for a, b in itertools.pairwise(sequence))
    for message in messages:
        record = getattr(message, "last", None) or getattr(message, "record", None)
        if record is not None:
            assert record.odometer_m >= 0 and 0 <= record.heading < 360
            assert 0 <= record.speed_kmh <= 140
