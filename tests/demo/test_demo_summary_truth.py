"""The demo summary's comparisons with the simulator's ground truth, on a small real
warehouse built from hand-made core rows and a hand-made truth with known answers.

Vehicles (records at known times; ``at(s)`` is ``s`` seconds after T0):

* 1, 2: ignition on and standing 660–840 s (idle 180 s in the marts), a drive to 3000 m,
  ignition off at 1170 s, parked. Their truths say 190 s (within 10 %) and 400 s.
* 3: the same, but the truth says its device lost coverage during the trip.
* 4: a drive at 130, 100, 130 km/h: two episodes above the 120 km/h limit.
* 5: parked, one record every 15 min, none between 3600 s and 7200 s + 900 s.
* 6: driving when its records stop at 600 s: silent ever since (trip ``signal_lost``).
* 7: parked at the depot, drives to the shop (3000 m), parks 900 s, drives on to 6000 m
  (no ignition input: motion-detected trips).

The last records: 600 s (vehicle 6), 10 620 s (7), 10 800 s (5), 10 170 s (the others).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from warehouse_handmade import LAT, at, build, drive, east, ignition, parked, record, write

from lake.ducklake import open_warehouse
from trackit.demo_summary import (
    compare_idle,
    compare_overspeed,
    compare_place_visits,
    compare_silences,
)
from warehouse.places import import_places

END_S = 3 * 3600
"""The last record of the vehicles that report to the end."""


def iso(seconds: float) -> str:
    return at(seconds).isoformat()


def idling_trip(vid: int) -> list[dict[str, Any]]:
    """Parked (off), 3 min idling (on, 0 km/h), a drive to 3000 m (on), parked (off)."""
    before = parked(vid, 0, 600, at_m=0, odometer=0)
    warm_up = [record(vid, 660 + 60 * i, 0, 0, odometer=0) for i in range(3)]
    leg = drive(vid, 840, 300, start_m=0, odometer0=0)
    after = parked(vid, 1170, END_S - 1170, at_m=3000, odometer=3000, every_s=900)
    io = [ignition(r, 0.0) for r in before + after] + [ignition(r, 1.0) for r in warm_up + leg]
    return before + warm_up + leg + after, io


def speeding(vid: int) -> list[dict[str, Any]]:
    rows = drive(vid, 0, 60, speed_kmh=130)                                # 0, 30, 60
    rows += drive(vid, 90, 60, start_m=3250, speed_kmh=100, odometer0=3250)  # 90 ... 150
    rows += drive(vid, 180, 60, start_m=5000, speed_kmh=130, odometer0=5000)  # 180 ... 240
    rows += parked(vid, 270, END_S - 270, at_m=7200, odometer=7200, every_s=900)
    return rows


def tour(vid: int) -> list[dict[str, Any]]:
    """Depot (0 m) until 600 s, shop (3000 m) 960–1860 s, then on to 6000 m."""
    rows = parked(vid, 0, 600, at_m=0, odometer=0)
    rows += drive(vid, 630, 300, start_m=0, odometer0=0, speed_kmh=36)
    rows += parked(vid, 960, 900, at_m=3000, odometer=3000)
    rows += drive(vid, 1890, 300, start_m=3000, odometer0=3000, speed_kmh=36)
    rows += parked(vid, 2220, END_S - 2220, at_m=6000, odometer=6000, every_s=300)
    return rows


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    data = tmp_path_factory.mktemp("truth")
    (data / "places.csv").write_text(
        f"name,lat,lon,radius_m\nDepot,{LAT},{east(0)},100\nShop,{LAT},{east(3000)},100\n")
    import_places(data, data / "places.csv")
    records, record_io = [], []
    for vid in (1, 2, 3):
        rows, io = idling_trip(vid)
        records += rows
        record_io += io
    records += speeding(4)
    records += [r for r in parked(5, 0, END_S, at_m=0, odometer=0, every_s=900)
                if not 3600 < (r["tmx"] - at(0)).total_seconds() < 8100]
    records += drive(6, 0, 600)
    records += tour(7)
    write(data, records=records, record_io=record_io)
    build(data)
    con = open_warehouse(data, read_only=True)
    yield con
    con.close()


def vehicle(vid: int, has_ignition: bool = True) -> dict[str, Any]:
    return {"vid": vid, "uid": vid + 1000, "has_ignition": has_ignition}


def trip(vid: int, start_s: float, end_s: float | None, idle_s: float) -> dict[str, Any]:
    if end_s is None:
        return {"vid": vid, "start": iso(start_s), "open": True}
    return {"vid": vid, "start": iso(start_s), "end": iso(end_s), "idle_s": idle_s,
            "open": False}


def truth(**lists: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    keys = ("trips", "io_changes", "messages", "vehicles", "overspeed_episodes", "silences",
            "silent_periods", "place_visits")
    return {key: lists.get(key, []) for key in keys}


def test_idle_compares_the_finished_trips_each_vehicle_reported(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    result = compare_idle(warehouse, truth(
        vehicles=[vehicle(1), vehicle(2), vehicle(3), vehicle(7, has_ignition=False),
                  vehicle(8)],
        trips=[
            trip(1, 660, 1170, 190),    # marts: 180 s, within 10 %
            trip(1, 9000, None, 0),     # still running: its idle is not all in yet
            trip(1, 10_000, 10_300, 500),  # ends after the vehicle's last record (10 170 s)
            trip(2, 660, 1170, 400),    # marts: 180 s, off by more than 10 % and 60 s
            trip(3, 660, 1170, 100),    # coverage lost during it: compared apart
            trip(8, 0, 600, 300),       # no record of vehicle 8 in the warehouse
        ],
        silent_periods=[{"vid": 3, "from": iso(900), "until": iso(1000)}],
    ))
    assert result.vehicles == 3 and result.no_ignition == 1
    assert (result.truth_s, result.found_s) == (190 + 400, 180 + 180)
    assert result.within == 2      # vehicles 1 and 3 (nothing left to compare: 0 vs 0)
    assert (result.coverage_lost_truth_s, result.coverage_lost_found_s) == (100, 180)


def test_overspeed_episodes_match_by_vehicle_and_overlapping_time(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    result = compare_overspeed(warehouse, [
        {"vid": 4, "start": iso(0), "end": iso(90), "open": False},       # found
        {"vid": 4, "start": iso(2000), "end": iso(2030), "open": False},  # not found
        {"vid": 5, "start": iso(180), "end": iso(270), "open": True},     # other vehicle
    ])
    assert (result.truth, result.found, result.matched) == (3, 2, 1)
    assert result.found_without_truth == 1     # the episode at 180-270 s of vehicle 4


def test_silences_are_found_as_gaps_signal_lost_trips_or_a_silent_status(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    result = compare_silences(warehouse, [
        # vehicle 5's records leave out 3600 s to 8100 s: a gap
        {"vid": 5, "from": iso(3700), "until": iso(8000)},
        # vehicle 7 reports every 5 min meanwhile: the warehouse shows no silence
        {"vid": 7, "from": iso(2300), "until": iso(6000)},
        # vehicle 6 went silent while driving and still is (10 200 s in vehicle_status)
        {"vid": 6, "from": iso(610), "until": None, "seconds": 10_190},
        # vehicle 7 reports to the end: the warehouse cannot see it silent for 2 h
        {"vid": 7, "from": iso(3000), "until": None, "seconds": 7200},
    ], silent_after_s=3600)
    assert (result.truth, result.still_silent, result.matched) == (4, 2, 2)
    assert (result.signal_lost, result.data_gap, result.status_silent) == (1, 1, 1)


def test_place_visits_match_by_vehicle_place_and_time(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    def visit(vid: int, place: str, arrived_s: float, left_s: float | None) -> dict[str, Any]:
        return {"vid": vid, "place": place, "arrived_at": iso(arrived_s),
                "left_at": None if left_s is None else iso(left_s), "open": left_s is None}

    result = compare_place_visits(warehouse, [
        visit(7, "Shop", 960, 1890),      # found
        visit(7, "Shop", 4000, 5000),     # not found
        visit(1, "Shop", 1170, None),     # found, still there
        visit(2, "Depot", 10_000, None),  # 170 s before vehicle 2's last record: too soon
        visit(5, "Depot", 10_700, None),  # too soon, but its stop is the open one since 0 s
    ], min_stop_s=300)
    visits = result.visits
    assert (visits.truth, visits.matched, result.too_recent) == (3, 2, 2)
    # found: the depot before the first trip of 1, 2, 3, 5 and 7; the shop of 1, 2, 3, 7
    assert visits.found == 9
    # without truth: the depot stays of 1, 2, 3 and 7 (5's has a true visit, if a recent
    # one) and the shop visits of 2 and 3
    assert visits.found_without_truth == 6
    assert (result.found_first, result.found_discovered) == (4, 0)


def test_load_truth_merges_the_runs_and_keeps_only_the_changes_sent(tmp_path: Path) -> None:
    from trackit.demo_summary import load_truth

    def run_file(name: str, now_s: float, vids: list[int], **lists: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps({"now": at(now_s).timestamp(),
                                    "vehicles": [vehicle(v) for v in vids], **lists}))
        return path

    first = run_file("run1.json", 1000, [1, 2],
                     silences=[{"vid": 1, "from": iso(0), "until": None}],
                     io_changes=[{"vid": 1, "emitted": iso(900)},
                                 {"vid": 1, "emitted": iso(1100)}])
    second = run_file("run2.json", 2000, [1, 2, 3],
                      place_visits=[{"vid": 3, "place": "Shop"}])
    merged = load_truth([first, second, tmp_path / "missing.json"])
    assert [v["vid"] for v in merged["vehicles"]] == [1, 2, 3]
    assert len(merged["silences"]) == 1 and len(merged["place_visits"]) == 1
    assert merged["io_changes"] == [{"vid": 1, "emitted": iso(900)}]
