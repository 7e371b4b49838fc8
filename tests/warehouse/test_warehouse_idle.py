"""Idle time (ignition on at <= 5 km/h) is counted wherever it happens, and adds up."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from warehouse_handmade import (
    assert_checks_passed,
    at,
    build,
    drive,
    ignition,
    parked,
    query,
    record,
    stops,
    trips,
    write,
)

from warehouse.config import WarehouseConfig

VID = 5


Rows = list[dict[str, Any]]


def idling_day() -> tuple[Rows, Rows]:
    """A vehicle with its ignition read at every record, idling in and around its trips."""
    rest = parked(VID, 0, 600, at_m=0, odometer=0)                          # off
    warm_up = [record(VID, 660 + 60 * i, 0, 0, odometer=0) for i in range(3)]  # on, 0 km/h
    first_leg = drive(VID, 840, 300, start_m=0, odometer0=0)              # to 3000 m
    # queueing at 4 km/h (<= 5: idle), ignition on
    queue = [record(VID, 1170 + 30 * i, 3000, 4, odometer=3000) for i in range(4)]
    second_leg = drive(VID, 1290, 300, start_m=3000, odometer0=3000)      # to 6000 m
    # arrived, engine left running for 2 minutes, then off
    after = parked(VID, 1620, 1200, at_m=6000, odometer=6000)             # 1620 ... 2820
    third = drive(VID, 2880, 300, start_m=6000, odometer0=6000)           # to 9000 m
    end = parked(VID, 3210, 600, at_m=9000, odometer=9000)
    rows = rest + warm_up + first_leg + queue + second_leg + after + third + end
    on = {id(r) for r in warm_up + first_leg + queue + second_leg + third}
    on |= {id(after[0]), id(after[1])}    # 1620, 1680: idling after arrival
    on |= {id(after[5]), id(after[6])}    # 1920, 1980: engine on while parked, no move
    io = [ignition(r, 1.0 if id(r) in on else 0.0) for r in rows]
    return rows, io


def test_idle_is_counted_in_trips_at_their_ends_and_in_stops(tmp_path: Path) -> None:
    rows, io = idling_day()
    write(tmp_path, records=rows, record_io=io)
    build(tmp_path)
    first, second = trips(tmp_path)
    # the trip runs while the ignition is on: from the warm-up to the first 'off' (1740)
    assert (first["start_time"], first["end_time"]) == (at(660), at(1740))
    # warm-up 3 x 60 s (the last step to the first moving record) + queue 4 x 30 s
    # + 2 x 60 s idling after arrival
    assert first["idle_s"] == 180 + 120 + 120
    assert second["idle_s"] == 0
    first_stop, between, current = stops(tmp_path)
    assert first_stop["flags"] == ["first"] and first_stop["idle_s"] == 0
    # engine on for 2 minutes while parked (a 0 m "trip" is no trip): idle of the stop
    assert between["flags"] == [] and between["idle_s"] == 120
    assert current["flags"] == ["open"] and current["idle_s"] == 0
    [day] = query(tmp_path, "select * from marts.vehicle_daily")
    assert day["idle_s"] == 420 + 120
    assert day["trips"] == 2
    assert_checks_passed(tmp_path)  # the models and the reconciliations (days add up) pass


def test_idle_is_null_for_a_vehicle_that_reports_no_ignition(tmp_path: Path) -> None:
    rows = parked(VID, 0, 600, at_m=0, odometer=0, rpm=800)
    rows += drive(VID, 630, 600, odometer0=0) + parked(VID, 1260, 600, at_m=6000, odometer=6000)
    write(tmp_path, records=rows)
    build(tmp_path)
    [trip] = trips(tmp_path)
    assert trip["idle_s"] is None
    assert [s["idle_s"] for s in stops(tmp_path)] == [None, None]
    [day] = query(tmp_path, "select * from marts.vehicle_daily")
    assert day["idle_s"] is None
    assert_checks_passed(tmp_path)


def test_a_step_longer_than_the_gap_threshold_adds_no_idle(tmp_path: Path) -> None:
    # ignition on at rest, then nothing for two hours, then still on at rest
    rows = [record(VID, s, 0, 0, odometer=0) for s in (0, 60, 7260, 7320)]
    io = [ignition(r, 1.0 if i < 3 else 0.0) for i, r in enumerate(rows)]
    write(tmp_path, records=rows, record_io=io)
    build(tmp_path)
    assert trips(tmp_path) == []
    [stop] = stops(tmp_path)
    assert stop["flags"] == ["first", "open"] and stop["duration_s"] == 7320
    assert stop["idle_s"] == 60 + 60


def test_days_add_up_their_trips_and_stops_in_the_local_time_zone(tmp_path: Path) -> None:
    rows, io = idling_day()
    # the same day again 8 hours later: 17:00 and 01:00 in Tokyo, two local days
    shift = timedelta(hours=8)
    later, later_io = (
        [dict(r, tmx=r["tmx"] + shift, received_at=r["received_at"] + shift) for r in table]
        for table in (rows, io)
    )
    write(tmp_path, records=rows + later, record_io=io + later_io)
    config = WarehouseConfig(timezone="Asia/Tokyo")
    build(tmp_path, config)
    days = query(tmp_path, "select day, trips, idle_s from marts.vehicle_daily order by day")
    # day 1: its two trips (420 + 0), the stop between (120), the long evening stop (0)
    # day 2: two trips (420 + 0), the stop between (120), the current stop (0)
    assert [(d["trips"], d["idle_s"]) for d in days] == [(2, 540), (2, 540)]
    total = query(tmp_path, "select (select sum(idle_s) from marts.trips)"
                            " + (select sum(idle_s) from marts.stops) as idle_s")[0]["idle_s"]
    assert total == pytest.approx(sum(d["idle_s"] for d in days))
    assert_checks_passed(tmp_path)


@pytest.mark.parametrize("odometer", [True, False], ids=["by odometer", "by gps"])
def test_a_coverage_hole_across_which_the_vehicle_moved_is_not_idle(tmp_path: Path,
                                                           odometer: bool) -> None:
    """Standing at a light with the engine on, then no coverage until 9 km further on: the
    vehicle drove in between, so the 900 s hole is not idle time (it was, all of it)."""
    def odo(metres: float) -> float | None:
        return metres if odometer else None

    rows = parked(VID, 0, 600, at_m=0, odometer=odo(0))                        # off
    rows += drive(VID, 630, 300, start_m=0, odometer0=odo(0))                  # to 3000 m
    light = [record(VID, 960 + 30 * i, 3000, 0, odometer=odo(3000)) for i in range(3)]
    rows += light                                                              # 960, 990, 1020
    rows += drive(VID, 1920, 300, start_m=12000, odometer0=odo(12000))         # 9 km further
    rows += parked(VID, 2250, 600, at_m=15000, odometer=odo(15000))
    on_until = 2220
    io = [ignition(r, 1.0 if 600 < (r["tmx"] - at(0)).total_seconds() <= on_until else 0.0)
          for r in rows]
    write(tmp_path, records=rows, record_io=io)
    build(tmp_path)
    [trip] = trips(tmp_path)
    # the light: 960 -> 990 -> 1020 (2 x 30 s); 1020 -> 1920 moved 9 km: not idle
    assert trip["idle_s"] == 60
