"""Every record's io map agrees with the I/O changes the device reports as events.

An I/O event is stamped at a whole second; a record logged at or after that second must
already carry the new level (and one logged before it the old level), otherwise the
warehouse sees the input flip back and forth (marts.io_changes gets changes that never
happened).
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict

import pytest
from simulator_test_client import START

from simulator.fleet import Fleet
from simulator.messages import DeviceEvent, IoEvent, Record, RecordsBatch

HOURS = 6


def _records_and_truth(seed: int, vehicles: int) -> tuple[list[Record], Fleet]:
    fleet = Fleet(vehicles, seed=seed, start=START)
    records = []
    for message in itertools.takewhile(lambda m: m.emit <= START + HOURS * 3600,
                                       fleet.messages()):
        if isinstance(message, RecordsBatch):
            records.append(message.last)
        elif isinstance(message, IoEvent | DeviceEvent):
            records.append(message.record)
    return records, fleet


@pytest.mark.parametrize("seed", [5, 2026, 77])
def test_every_record_carries_the_levels_of_the_io_changes_at_its_time(seed: int) -> None:
    records, fleet = _records_and_truth(seed, vehicles=10)
    history: dict[tuple[int, int], tuple[list[float], list[int], int]] = {}
    changes_by_input: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for change in fleet.truth.io_changes:
        changes_by_input[(change["vid"], change["io"])].append(change)
    for key, changes in changes_by_input.items():
        changes.sort(key=lambda c: c["tmx"])
        history[key] = ([c["tmx"] for c in changes], [c["to_value"] for c in changes],
                        changes[0]["from_value"])

    checked = 0
    mismatches = []
    for record in records:
        for io_text, level in record.io.items():
            key = (record.vid, int(io_text))
            if key not in history:
                continue
            times, values, initial = history[key]
            index = bisect.bisect_right(times, record.tmx) - 1
            expected = values[index] if index >= 0 else initial
            checked += 1
            if level != expected:
                mismatches.append((record.vid, io_text, record.tmx, level, expected))
    assert checked > 1000
    assert mismatches == []


def test_ignition_turns_on_and_off_at_the_trip_start_and_end() -> None:
    _, fleet = _records_and_truth(5, vehicles=10)
    ignition = {(c["vid"], c["tmx"], c["to_value"]) for c in fleet.truth.io_changes
                if c["io"] == 1}
    trips = [t for t in fleet.truth.trips if t["detection"] == "ignition"]
    assert len(trips) > 50
    for trip in trips:
        assert (trip["vid"], trip["start"], 1) in ignition
        assert (trip["vid"], trip["end"], 0) in ignition
