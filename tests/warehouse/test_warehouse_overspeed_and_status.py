"""Overspeed episodes, driver_daily, vehicle_status and vehicle_daily's new columns on
hand-made records with known answers; the reconciliations between them hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from warehouse_handmade import (
    assert_checks_passed,
    at,
    build,
    build_in_slices,
    drive,
    ignition,
    mart_rows,
    parked,
    query,
    record,
    trips,
    write,
)

from warehouse.config import WarehouseConfig, WarehouseConfigError

VID = 11
Rows = list[dict[str, Any]]


def speeding_drive(vid: int = VID, start_s: float = 0, *, card: str = "CARD-A") -> Rows:
    """36 km/h for 5 min, 130 km/h for 5 min, 36 km/h for 5 min, 140 km/h for 1 min, then
    parked: two episodes above 120 km/h."""
    legs = [(36, 300), (130, 300), (36, 300), (140, 60)]
    rows: Rows = []
    t, m = start_s, 0.0
    for speed, seconds in legs:
        leg = drive(vid, t, seconds, start_m=m, speed_kmh=speed, odometer0=m)
        rows += leg if not rows else leg[1:]
        t, m = t + seconds, m + speed / 3.6 * seconds
    rows += parked(vid, t + 30, 900, at_m=m, odometer=m)
    for row in rows:
        row["driver_card"] = card
    return rows


def test_consecutive_records_above_the_limit_form_one_episode(tmp_path: Path) -> None:
    rows = speeding_drive()
    write(tmp_path, records=rows)
    build(tmp_path)
    first, second = query(tmp_path, "select * from marts.overspeed order by start_time")
    [trip] = trips(tmp_path)
    # from the first record above (330 s) to the first back at or under it (630 s)
    assert (first["start_time"], first["end_time"], first["duration_s"]) == (
        at(330), at(630), 300)
    assert first["end_reason"] == "under_limit" and first["n_records"] == 10
    assert first["max_speed_kmh"] == 130 and first["avg_speed_kmh"] == 130
    # 9 steps at 130 km/h and the step back under the limit at 36 km/h
    assert first["distance_km"] == pytest.approx((9 * 130 / 3.6 * 30 + 300) / 1000, rel=1e-3)
    assert first["limit_kmh"] == 120 and first["trip_id"] == trip["trip_id"]
    assert first["driver_card"] == "CARD-A" and first["start_lat"] == pytest.approx(38.7)
    assert (second["start_time"], second["end_time"]) == (at(930), at(990))
    assert second["max_speed_kmh"] == 140
    [day] = query(tmp_path, "select * from marts.vehicle_daily")
    assert day["overspeed_episodes"] == 2
    assert_checks_passed(tmp_path)


def test_a_vehicle_limit_overrides_the_default(tmp_path: Path) -> None:
    write(tmp_path, records=speeding_drive() + speeding_drive(12))
    config = WarehouseConfig(vehicle_speed_limits=f"{VID}=135, 12=100")
    build(tmp_path, config)
    episodes = query(tmp_path, "select vid, limit_kmh, start_time, max_speed_kmh "
                               "from marts.overspeed order by all")
    # vehicle 11 only at 140 km/h; vehicle 12 at 130 and 140 (its limit is 100)
    assert episodes == [
        {"vid": VID, "limit_kmh": 135, "start_time": at(930), "max_speed_kmh": 140},
        {"vid": 12, "limit_kmh": 100, "start_time": at(330), "max_speed_kmh": 130},
        {"vid": 12, "limit_kmh": 100, "start_time": at(930), "max_speed_kmh": 140},
    ]
    settings = {r["key"]: r["value"]
                for r in query(tmp_path, "select key, value from meta.build_settings")}
    assert settings["vehicle_speed_limits"] == "11=135, 12=100"
    assert settings["speed_limit_kmh"] == "120.0"
    assert_checks_passed(tmp_path)


def test_speed_limits_come_from_the_environment_and_bad_ones_are_clear(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKIT_SPEED_LIMIT_KMH", "90")
    monkeypatch.setenv("TRACKIT_VEHICLE_SPEED_LIMITS", "17=80,23=100.5")
    config = WarehouseConfig()
    assert config.speed_limit_kmh == 90 and config.speed_limit_for(23) == 100.5
    assert config.speed_limit_for(5) == 90
    monkeypatch.setenv("TRACKIT_VEHICLE_SPEED_LIMITS", "17:80")
    with pytest.raises(WarehouseConfigError, match="'17:80' is not vid=km/h"):
        WarehouseConfig()
    monkeypatch.delenv("TRACKIT_VEHICLE_SPEED_LIMITS")
    monkeypatch.setenv("TRACKIT_SPEED_LIMIT_KMH", "fast")
    with pytest.raises(WarehouseConfigError, match="TRACKIT_SPEED_LIMIT_KMH is 'fast'"):
        WarehouseConfig()


def test_an_episode_when_the_data_stops_ends_at_its_last_record_and_later_data_extends_it(
        tmp_path: Path) -> None:
    rows = speeding_drive()
    cut = [r for r in rows if r["tmx"] <= at(450)]
    write(tmp_path / "cut", records=cut)
    build(tmp_path / "cut")
    [open_episode] = query(tmp_path / "cut", "select * from marts.overspeed")
    assert open_episode["end_reason"] == "data_end" and open_episode["end_time"] == at(450)
    write(tmp_path / "cut", records=[r for r in rows if r["tmx"] > at(450)])
    build(tmp_path / "cut")
    write(tmp_path / "whole", records=rows)
    build(tmp_path / "whole")
    assert mart_rows(tmp_path / "cut") == mart_rows(tmp_path / "whole")


def test_driver_daily_adds_up_the_trips_and_episodes_of_a_driver(tmp_path: Path) -> None:
    morning = speeding_drive(VID, 0, card="CARD-A")
    # the same driver later in another vehicle, and another driver in the first one
    afternoon = speeding_drive(12, 7200, card="CARD-A")
    evening = drive(VID, 14_400, 600, start_m=-50_000, odometer0=50_000)
    evening += parked(VID, 15_030, 600, at_m=-44_000, odometer=56_000)
    for row in evening:
        row["driver_card"] = "CARD-B"
    write(tmp_path, records=morning + afternoon + evening)
    build(tmp_path)
    days = query(tmp_path, "select * from marts.driver_daily order by driver_card")
    all_trips = trips(tmp_path)
    a_trips = [t for t in all_trips if t["driver_card"] == "CARD-A"]
    assert [(d["driver_card"], d["vehicles"], d["trips"], d["overspeed_episodes"])
            for d in days] == [("CARD-A", 2, 2, 4), ("CARD-B", 1, 1, 0)]
    assert days[0]["distance_km"] == pytest.approx(sum(t["distance_km"] for t in a_trips))
    assert days[0]["driving_s"] == sum(t["duration_s"] for t in a_trips)
    assert days[0]["idle_s"] is None  # no ignition reported
    assert_checks_passed(tmp_path)


def test_driver_idle_sums_the_idle_of_the_drivers_trips(tmp_path: Path) -> None:
    rows = drive(VID, 0, 600, odometer0=0)
    queue = [record(VID, 630 + 30 * i, 6000, 0, odometer=6000) for i in range(4)]
    rest = parked(VID, 780, 900, at_m=6000, odometer=6000)
    io = [ignition(r, 1.0) for r in rows + queue] + [ignition(r, 0.0) for r in rest]
    write(tmp_path, records=rows + queue + rest, record_io=io)
    build(tmp_path)
    [trip] = trips(tmp_path)
    [day] = query(tmp_path, "select * from marts.driver_daily")
    assert trip["idle_s"] == 3 * 30 + 60 and day["idle_s"] == trip["idle_s"]


CLOCK = 99


def test_vehicle_status_says_where_each_vehicle_is_and_what_it_does(tmp_path: Path) -> None:
    moving = drive(1, 3400, 600, odometer0=0)                       # still driving at 4000
    idle = parked(2, 3400, 600, at_m=0, odometer=0)                 # engine on, standing
    stopped = parked(3, 3400, 600, at_m=0, odometer=0)              # engine off
    silent = drive(4, 0, 300, odometer0=0)                          # last heard at 300 s
    for row in idle + stopped:
        row["fuel_level"], row["engine_hours"] = 55.0, 1234.0
    io = [ignition(r, 1.0) for r in idle] + [ignition(r, 0.0) for r in stopped]
    write(tmp_path, records=moving + idle + stopped + silent, record_io=io)
    build(tmp_path)
    status = {s["vid"]: s for s in query(tmp_path, "select * from marts.vehicle_status")}
    assert {vid: s["state"] for vid, s in status.items()} == {
        1: "moving", 2: "idle", 3: "stopped", 4: "silent"}
    assert {s["as_of"] for s in status.values()} == {at(4000)}
    assert status[4]["silent_s"] == 3700 and status[1]["silent_s"] == 0
    assert status[1]["last_seen"] == at(4000) and status[1]["last_received_at"] == at(4002)
    assert status[2]["ignition"] is True and status[3]["ignition"] is False
    assert status[1]["ignition"] is None
    assert (status[2]["fuel_level"], status[2]["engine_hours"]) == (55.0, 1234.0)
    [open_trip] = [t for t in trips(tmp_path) if t["vid"] == 1]
    assert status[1]["current_trip_id"] == open_trip["trip_id"] and open_trip["is_open"]
    assert status[3]["current_trip_id"] is None
    assert status[1]["speed_kmh"] == 36 and status[1]["lat"] == pytest.approx(38.7)
    assert_checks_passed(tmp_path)


def test_vehicle_status_follows_as_of_when_only_other_vehicles_report(tmp_path: Path) -> None:
    """A vehicle becomes silent by the data of others alone (as_of, not the wall clock)."""
    rows = parked(1, 0, 600, at_m=0, odometer=0)
    clock = [record(CLOCK, t, 50_000, 0, odometer=50_000) for t in range(0, 7201, 300)]
    cut = tmp_path / "cut"
    write(cut, records=rows + [r for r in clock if r["tmx"] <= at(3600)])
    build(cut)
    assert query(cut, "select state from marts.vehicle_status where vid = 1") == [
        {"state": "stopped"}]
    write(cut, records=[r for r in clock if r["tmx"] > at(3600)])
    build(cut)
    assert query(cut, "select state, silent_s from marts.vehicle_status where vid = 1") == [
        {"state": "silent", "silent_s": 6600}]
    write(tmp_path / "whole", records=rows + clock)
    build(tmp_path / "whole")
    assert mart_rows(cut) == mart_rows(tmp_path / "whole")


def test_vehicle_daily_counts_engine_hours_and_fuel_within_the_day(tmp_path: Path) -> None:
    rows = drive(VID, 0, 3000, odometer0=0, every_s=300)   # 11 records
    levels = [80, 79, 78, 77, 76, 100, 99, 98, None, 97, 96]  # refuelled at 1500 s
    hours = [100, 100, 101, 101, 101, 2, 2, 3, 3, 3, 4]      # the counter reset at 1500 s
    for row, level, hour in zip(rows, levels, hours, strict=True):
        row["fuel_level"] = level
        row["engine_hours"] = hour
    write(tmp_path, records=rows + parked(VID, 3060, 600, at_m=30_000,
                                                odometer=30_000))
    build(tmp_path)
    [day] = query(tmp_path, "select * from marts.vehicle_daily")
    assert day["engine_hours"] == 1 + 1 + 1        # steps up; the reset counts nothing
    assert (day["first_fuel_pct"], day["last_fuel_pct"]) == (80, 96)
    assert day["fuel_used_pct"] == 4 + 4 and day["fuel_added_pct"] == 24
    assert_checks_passed(tmp_path)


def test_new_marts_do_not_depend_on_how_data_was_cut(tmp_path: Path) -> None:
    rows = speeding_drive(VID, 0) + speeding_drive(12, 3000, card="CARD-B")
    rows += speeding_drive(VID, 9000, card="CARD-B")
    for i, row in enumerate(rows):
        row["fuel_level"], row["engine_hours"] = 90 - i // 20, 500 + i // 30
        if i % 4 == 0:  # a quarter arrive 15 minutes late
            row["received_at"] += at(900) - at(0)
    io = [ignition(r, 1.0 if r["speed_kmh"] > 0 else 0.0) for r in rows]
    build_in_slices(tmp_path / "cut", {"records": rows, "record_io": io}, every_s=600)
    write(tmp_path / "whole", records=rows, record_io=io)
    build(tmp_path / "whole")
    whole = mart_rows(tmp_path / "whole")
    assert len(whole["overspeed"]) == 6 and len(whole["driver_daily"]) == 2
    assert mart_rows(tmp_path / "cut") == whole
    assert_checks_passed(tmp_path / "cut")
