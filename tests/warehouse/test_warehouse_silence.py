"""Silence: a vehicle's unfinished trip is closed (signal_lost) once the latest device time
in the warehouse passes its last record by silent_after_s; later data reopens it. Results
do not depend on how the data was cut into builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from warehouse_handmade import (
    at,
    build,
    build_in_slices,
    drive,
    ignition,
    mart_rows,
    parked,
    record,
    stops,
    trips,
    write,
)

from warehouse.config import WarehouseConfig

# builds on the DuckLake take minutes on a loaded 2-core machine
pytestmark = pytest.mark.timeout(1200)

VID = 1
CLOCK = 99  # another vehicle, parked, whose records move the latest device time


def clock_until(seconds: int, start: int = 0) -> list[dict[str, Any]]:
    """The other vehicle's records every 5 minutes in (start, seconds] (from 0 on)."""
    return [record(CLOCK, t, 50_000, 0, odometer=50_000) for t in range(0, seconds + 1, 300)
            if t > start or t == 0]


def test_the_open_trip_of_a_silent_vehicle_is_closed_signal_lost(tmp_path: Path) -> None:
    moving = drive(VID, 0, 1200, odometer0=0)  # the data ends while it drives
    write(tmp_path / "silent", records=moving + clock_until(1200 + 3900))
    build(tmp_path / "silent")
    [trip] = trips(tmp_path / "silent")
    assert not trip["is_open"] and trip["flags"] == ["signal_lost"]
    assert trip["end_reason"] == "signal_lost" and trip["end_time"] == at(1200)

    write(tmp_path / "recent", records=moving + clock_until(1200 + 3300))
    build(tmp_path / "recent")
    [trip] = trips(tmp_path / "recent")
    assert trip["is_open"] and trip["flags"] == ["open"] and trip["end_reason"] == "open"


def test_another_vehicles_data_alone_closes_the_trip(tmp_path: Path) -> None:
    moving = drive(VID, 0, 1200, odometer0=0)
    cut = tmp_path / "cut"
    write(cut, records=moving + clock_until(1800))
    build(cut)
    assert trips(cut)[0]["is_open"]
    # only the other vehicle reports: as_of moves past the silent vehicle's last record
    write(cut, records=clock_until(1200 + 3900, start=1800))
    build(cut)
    assert trips(cut)[0]["flags"] == ["signal_lost"]
    write(tmp_path / "whole", records=moving + clock_until(1200 + 3900))
    build(tmp_path / "whole")
    assert mart_rows(cut) == mart_rows(tmp_path / "whole")


def test_later_data_reopens_and_continues_a_signal_lost_trip(tmp_path: Path) -> None:
    config = WarehouseConfig(silent_after_s=1800)
    before = drive(VID, 0, 1200, odometer0=0)                   # to 12 km
    # back 40 minutes later (less than max_gap_s), 24 km further: the same trip
    after = drive(VID, 3600, 600, start_m=36_000, odometer0=36_000)
    rest = parked(VID, 4230, 600, at_m=42_000, odometer=42_000)
    cut = tmp_path / "cut"
    write(cut, records=before + clock_until(3300))
    build(cut, config)
    [lost] = trips(cut)
    assert lost["flags"] == ["signal_lost"]
    write(cut, records=after[:5] + clock_until(3900, start=3300))
    build(cut, config)
    [reopened] = trips(cut)
    assert reopened["trip_id"] == lost["trip_id"] and reopened["is_open"]
    assert "signal_lost" not in reopened["flags"]
    write(cut, records=after[5:] + rest + clock_until(4830, start=3900))
    build(cut, config)
    [done] = trips(cut)
    # one trip, its 40-minute hole makes it sparse
    assert done["flags"] == ["sparse"] and done["distance_km"] == pytest.approx(42.0)
    write(tmp_path / "whole", records=before + after + rest + clock_until(4830))
    build(tmp_path / "whole", config)
    assert mart_rows(cut) == mart_rows(tmp_path / "whole")


def test_an_arrival_not_yet_confirmed_is_closed_too(tmp_path: Path) -> None:
    moving = drive(VID, 0, 600, odometer0=0)
    arrived = parked(VID, 630, 60, at_m=6000, odometer=6000)    # 630, 690: then silence
    cut = tmp_path / "cut"
    write(cut, records=moving + arrived + clock_until(690 + 3900))
    build(cut)
    [trip] = trips(cut)
    assert trip["flags"] == ["signal_lost"] and trip["end_reason"] == "arrival"
    assert not trip["is_open"] and trip["end_time"] == at(630)
    [stop] = [s for s in stops(cut) if s["vid"] == VID]
    assert (stop["start_time"], stop["end_time"], stop["flags"]) == (at(630), at(690), ["open"])
    # the vehicle wakes up where it parked, hours later: the trip was over
    later = parked(VID, 9000, 600, at_m=6000, odometer=6000)
    write(cut, records=later + clock_until(9600, start=690 + 3900))
    build(cut)
    [trip] = trips(cut)
    assert trip["flags"] == [] and not trip["is_open"]
    write(tmp_path / "whole", records=moving + arrived + later + clock_until(9600))
    build(tmp_path / "whole")
    assert mart_rows(cut) == mart_rows(tmp_path / "whole")


def mixed_fleet() -> dict[str, list[dict[str, Any]]]:
    """Vehicles that exercise every rule of trips, stops and idle, some of them late."""
    records: list[dict[str, Any]] = []
    record_io: list[dict[str, Any]] = []
    # 1: ignition read at every record; idles, drives, goes silent mid-drive, comes back
    one = (parked(1, 0, 600, at_m=0, odometer=0)
           + [record(1, 660 + 60 * i, 0, 0, odometer=0) for i in range(3)]
           + drive(1, 840, 1200, odometer0=0)
           + drive(1, 2040 + 5400, 600, start_m=20_000, odometer0=20_000)
           + parked(1, 8070, 3600, at_m=26_000, odometer=26_000))
    records += one
    # off while parked before 660 s and from 8070 s on, on in between
    record_io += [ignition(r, 0.0 if r["tmx"] < at(660) or r["tmx"] >= at(8070) else 1.0)
                  for r in one]
    # 2: no ignition; two trips, the second one's records uploaded an hour late
    two = (drive(2, 300, 900, odometer0=0) + parked(2, 1230, 1200, at_m=9000, odometer=9000)
           + drive(2, 2460, 900, start_m=9000, odometer0=9000)
           + parked(2, 3390, 3600, at_m=18_000, odometer=18_000))
    for row in two:
        if at(2460) <= row["tmx"] < at(3390):
            row["received_at"] = row["tmx"] + (at(3600) - at(0))
    records += two
    # 3: an 'off' read once, then it drives hours later with no reading (I/O on change)
    three = (parked(3, 0, 600, at_m=0, odometer=0) + drive(3, 6000, 900, odometer0=0)
             + parked(3, 6930, 1800, at_m=9000, odometer=9000))
    records += three
    record_io.append(ignition(three[0], 0.0))
    # 4: ignition off and on again within a minute between two drives
    first, second = drive(4, 0, 600, odometer0=0), drive(4, 720, 600, start_m=6000,
                                                           odometer0=6000)
    pause = parked(4, 630, 60, at_m=6000, odometer=6000)
    four = first + pause + second + parked(4, 1350, 9000, at_m=12_000, odometer=12_000,
                                             every_s=600)
    records += four
    record_io += [ignition(r, 1.0 if r in first or r in second else 0.0) for r in four]
    # 5: stands still all along, seen every 10 minutes until the end
    records += parked(5, 0, 11_000, at_m=0, odometer=0, every_s=600)
    return {"records": records, "record_io": record_io}


def test_builds_every_ten_minutes_equal_one_build(tmp_path: Path) -> None:
    tables = mixed_fleet()
    write(tmp_path / "whole", **tables)
    build(tmp_path / "whole")
    builds = build_in_slices(tmp_path / "sliced", tables, every_s=600)
    assert builds > 15
    whole = mart_rows(tmp_path / "whole", ("trips", "stops", "vehicle_daily", "io_changes"))
    assert mart_rows(tmp_path / "sliced", whole.keys()) == whole
    # the rules at work: idle, the silent drive closed then continued, the fallback to
    # motion, the ignition switched off between two drives
    found = trips(tmp_path / "whole")
    by_vid = {vid: [t for t in found if t["vid"] == vid] for vid in (1, 2, 3, 4)}
    assert by_vid[1][0]["idle_s"] == 180 and "gap_inferred" in by_vid[1][0]["flags"]
    assert len(by_vid[2]) == 2 and by_vid[2][0]["idle_s"] is None
    assert [t["detection"] for t in by_vid[3]] == ["motion"]
    assert len(by_vid[4]) == 2
    flags = {tuple(s["flags"]) for s in stops(tmp_path / "whole")}
    assert {("first",), ("open",), ("first", "open")} <= flags
