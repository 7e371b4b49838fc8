"""Results do not depend on how the data was cut into runs (docs/warehouse.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sample_fleet import (
    DEFAULT_START,
    FleetSpec,
    generate,
    rows_received_before,
    store_core_rows,
)
from warehouse_handmade import at, build, drive, mart_rows, parked, trips, write

from lake.ducklake import open_warehouse
from marts import MARTS

# builds on the DuckLake take minutes on a loaded 2-core machine
pytestmark = pytest.mark.timeout(1200)

HOURS = 30


def silent_drive(start_s: float) -> list[dict[str, Any]]:
    """A vehicle that drives off and is never heard of again (its records on time)."""
    rows = drive(900_001, start_s, 900, odometer0=0)
    for row in rows:
        row["tmx"] += DEFAULT_START - at(0)
        row["received_at"] += DEFAULT_START - at(0)
    return rows


def speeder(start_s: float) -> list[dict[str, Any]]:
    """A vehicle that drives at 100 km/h with two stretches above 120 km/h, then parks."""
    rows, metres, t = [], 0.0, start_s
    for speed in (100, 130, 100, 128, 100):
        leg = drive(900_002, t, 600, start_m=metres, speed_kmh=speed, odometer0=metres)
        rows += leg[1:] if rows else leg
        t, metres = t + 600, metres + speed / 3.6 * 600
    rows += parked(900_002, t + 60, 1800, at_m=metres, odometer=metres)
    for row in rows:
        row["tmx"] += DEFAULT_START - at(0)
        row["received_at"] += DEFAULT_START - at(0)
    return rows


def with_fuel_and_engine_hours(rows: list[dict[str, Any]]) -> None:
    """Fuel falling with the odometer (refilled below 50 %), an engine-hours counter."""
    for row in rows:
        odometer = row.get("odometer") or 0
        row["fuel_level"] = float(100 - (odometer // 4000) % 50)
        row["engine_hours"] = float(1000 + (row["tmx"] - DEFAULT_START).total_seconds() // 7200)


def test_hour_by_hour_builds_equal_one_build_over_all_data(tmp_path: Path) -> None:
    tables = generate(FleetSpec(start=DEFAULT_START, hours=HOURS, vehicles=4, late_share=0.1))
    tables["records"] += silent_drive(8 * 3600) + speeder(20 * 3600)
    with_fuel_and_engine_hours(tables["records"])
    whole, hourly = tmp_path / "whole", tmp_path / "hourly"
    store_core_rows(whole, tables)
    build(whole)
    # late uploads arrive up to 150 minutes after their records: run past the last hour
    for hour in range(HOURS + 3):
        since = DEFAULT_START + timedelta(hours=hour)
        batch = rows_received_before(tables, since + timedelta(hours=1),
                                     since=since if hour else None)
        store_core_rows(hourly, batch)
        build(hourly)
    expected, got = mart_rows(whole), mart_rows(hourly)
    assert len(expected["trips"]) > 40 and len(expected["io_changes"]) > 40
    assert len(expected["overspeed"]) == 2 and len(expected["vehicle_status"]) == 6
    assert len(expected["driver_daily"]) > 4 and len(expected["io_state"]) >= 2
    for mart in MARTS:
        assert got[mart] == expected[mart], mart
    # the rules that depend on later data are at work: idle inside trips, open and first
    # stops, a trip closed by the silence of its vehicle
    con = open_warehouse(whole, read_only=True)
    try:
        assert con.execute("select count(*) from marts.trips where idle_s > 0").fetchone()[0]
        assert con.execute("select flags from marts.trips where vid = 900001").fetchall() == [
            (["signal_lost"],)]
        stop_flags = {row[0] for row in con.execute(
            "select distinct flags::varchar from marts.stops").fetchall()}
        assert {"[first]", "[open]"} <= stop_flags
        assert con.execute(
            "select count(*) from marts.vehicle_daily where idle_s > 0").fetchone()[0]
        assert con.execute("select count(*) from marts.vehicle_daily "
                           "where engine_hours > 0 and fuel_used_pct > 0").fetchone()[0]
        assert con.execute("select state from marts.vehicle_status "
                           "where vid = 900001").fetchall() == [("silent",)]
    finally:
        con.close()


def test_a_late_batch_of_old_records_corrects_the_trips_it_touches(tmp_path: Path) -> None:
    vid = 3
    trip = drive(vid, 0, 3600 * 2, odometer0=0)  # a 2-hour drive, 72 km
    rest = parked(vid, 7230, 900, at_m=72_000, odometer=72_000)
    other = drive(9, 0, 600, odometer0=0) + parked(9, 630, 900, at_m=6000, odometer=6000)
    late = [r for r in trip if 1200 < (r["tmx"] - at(0)).total_seconds() < 6000]
    on_time = [r for r in trip if r not in late]

    write(tmp_path / "cut", records=on_time + rest + other)
    build(tmp_path / "cut")
    before = trips(tmp_path / "cut")
    # without the late records a gap of > 3600 s (and an odometer that grew 48 km in it,
    # at 36 km/h) sits inside the trip: one trip, flagged gap_inferred (and sparse)
    assert [t["flags"] for t in before if t["vid"] == vid] == [["gap_inferred", "sparse"]]

    write(tmp_path / "cut", records=late)
    build(tmp_path / "cut")
    after = trips(tmp_path / "cut")
    [corrected] = [t for t in after if t["vid"] == vid]
    assert corrected["flags"] == [] and corrected["n_records"] == len(trip) + 1
    assert corrected["distance_km"] == pytest.approx(72.0)
    # the other vehicle's trip was not touched
    assert [t for t in after if t["vid"] == 9] == [t for t in before if t["vid"] == 9]

    write(tmp_path / "whole", records=trip + rest + other)
    build(tmp_path / "whole")
    assert mart_rows(tmp_path / "cut") == mart_rows(tmp_path / "whole")


def test_a_late_batch_splits_a_trip_it_reveals_a_long_stop_in(tmp_path: Path) -> None:
    vid = 4
    first = drive(vid, 0, 600, odometer0=0)
    stop = parked(vid, 630, 1200, at_m=6000, odometer=6000)  # 20 min, arrives late
    second = drive(vid, 1890, 600, start_m=6000, odometer0=6000)
    rest = parked(vid, 2520, 900, at_m=12000, odometer=12000)
    write(tmp_path, records=first + second + rest)
    build(tmp_path)
    # without the stop's records the 21-minute hole (no gap, odometer grew) reads as driving
    assert len(trips(tmp_path)) == 1
    write(tmp_path, records=stop)
    build(tmp_path)
    assert [(t["start_time"], t["end_time"]) for t in trips(tmp_path)] == [
        (at(0), at(630)), (at(1890), at(2520)),
    ]
