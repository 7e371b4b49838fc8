"""Each trip rule of docs/warehouse.md, proven on hand-made records with a known answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from warehouse_handmade import (
    at,
    build,
    drive,
    east,
    ignition,
    parked,
    query,
    record,
    stops,
    trips,
    write,
)

from warehouse.config import WarehouseConfig

VID = 7


def test_motion_trip_uses_odometer_distance_and_ends_at_arrival(tmp_path: Path) -> None:
    # 10 minutes at 36 km/h = 6000 m, then parked for 20 minutes
    moving = drive(VID, 0, 600, odometer0=10_000)
    rows = moving + parked(VID, 630, 1200, at_m=6000, odometer=16_000)
    write(tmp_path, records=rows)
    build(tmp_path)
    [trip] = trips(tmp_path)
    assert trip["detection"] == "motion"
    assert trip["start_time"] == at(0)
    # the trip ends at arrival (the first record at rest), not when the stop is confirmed
    assert trip["end_time"] == at(630)
    assert trip["distance_source"] == "odometer"
    assert trip["distance_km"] == pytest.approx(6.0)
    assert trip["gps_distance_km"] == pytest.approx(6.0, rel=1e-3)
    assert trip["flags"] == [] and not trip["is_open"]
    assert trip["n_records"] == len(moving) + 1


def test_a_move_of_200_m_counts_as_motion_without_speed(tmp_path: Path) -> None:
    # speed reported 0 all along, but each record is 250 m further: moving by position
    rows = [record(VID, 60 * i, 250 * i, 0, odometer=250 * i) for i in range(11)]
    rows += parked(VID, 660, 900, at_m=2500, odometer=2500)
    write(tmp_path, records=rows)
    build(tmp_path)
    [trip] = trips(tmp_path)
    assert trip["distance_km"] == pytest.approx(2.5)


def test_ignition_decides_when_known(tmp_path: Path) -> None:
    # crawling at 3 km/h with ignition on: not motion by speed or by 200 m steps, but a trip
    crawl = drive(VID, 0, 1200, speed_kmh=3, every_s=60, odometer0=0)  # 1000 m
    rest = parked(VID, 1260, 900, at_m=1000, odometer=1000)
    io = [{"vid": VID, "uid": VID + 1000, "tmx": r["tmx"], "io": 1,
           "value": 1.0 if r in crawl else 0.0, "received_at": r["received_at"], "seq": 0}
          for r in crawl + rest]
    write(tmp_path, records=crawl + rest, record_io=io)
    build(tmp_path)
    [trip] = trips(tmp_path)
    assert trip["detection"] == "ignition"
    assert trip["start_time"] == at(0) and trip["end_time"] == at(1260)
    assert trip["distance_km"] == pytest.approx(1.0)


def test_ignition_off_while_rolling_is_not_a_trip(tmp_path: Path) -> None:
    rows = drive(VID, 0, 600, odometer0=0) + parked(VID, 630, 600, at_m=6000, odometer=6000)
    io = [{"vid": VID, "uid": VID + 1000, "tmx": at(0), "io": 1, "value": 0.0,
           "received_at": at(1), "seq": 0}]
    write(tmp_path, records=rows, record_io=io)
    build(tmp_path)
    assert trips(tmp_path) == []


def test_short_stop_does_not_split_but_a_long_one_does(tmp_path: Path) -> None:
    first = drive(VID, 0, 600, odometer0=0)                      # to 6000 m
    light = parked(VID, 630, 120, at_m=6000, odometer=6000)      # 2 min at a light
    second = drive(VID, 780, 600, start_m=6000, odometer0=6000)  # to 12000 m
    long_stop = parked(VID, 1410, 900, at_m=12000, odometer=12000)  # 15 min
    third = drive(VID, 2340, 600, start_m=12000, odometer0=12000)
    end = parked(VID, 2970, 600, at_m=18000, odometer=18000)
    write(tmp_path, records=first + light + second + long_stop + third + end)
    build(tmp_path)
    found = trips(tmp_path)
    assert [(t["start_time"], t["end_time"]) for t in found] == [
        (at(0), at(1410)), (at(2340), at(2970)),
    ]
    assert found[0]["distance_km"] == pytest.approx(12.0)
    [stop, current] = query(tmp_path, "select * from marts.stops order by start_time")
    assert (stop["start_time"], stop["end_time"]) == (at(1410), at(2340))
    assert stop["duration_s"] == 930 and stop["flags"] == [] and not stop["is_open"]
    assert stop["lon"] == pytest.approx(found[0]["end_lon"])
    # the stop it is in now runs from the last arrival to the last record
    assert (current["start_time"], current["end_time"]) == (at(2970), at(3570))
    assert current["is_open"] and current["flags"] == ["open"]


def test_a_trip_shorter_than_200_m_is_dropped(tmp_path: Path) -> None:
    hop = drive(VID, 0, 15, speed_kmh=36, every_s=15, odometer0=0)  # 150 m
    rows = hop + parked(VID, 30, 900, at_m=150, odometer=150)
    write(tmp_path, records=rows)
    build(tmp_path)
    assert trips(tmp_path) == []


def test_a_data_gap_ends_the_trip(tmp_path: Path) -> None:
    before = drive(VID, 0, 600, odometer0=0)
    # 2 hours without data, the odometer did not move: the gap ends the trip
    after = drive(VID, 600 + 7200, 600, start_m=6000, odometer0=6000)
    rest = parked(VID, 600 + 7200 + 630, 600, at_m=12000, odometer=12000)
    write(tmp_path, records=before + after + rest)
    build(tmp_path)
    found = trips(tmp_path)
    assert len(found) == 2
    assert found[0]["end_reason"] == "gap" and found[0]["end_time"] == at(600)
    assert "gap_inferred" not in found[0]["flags"]


def test_a_gap_the_odometer_bridges_continues_the_trip(tmp_path: Path) -> None:
    before = drive(VID, 0, 600, odometer0=0)                 # 6000 m in 10 min
    # 2 hours without data while the odometer grew 20 km (10 km/h): the trip went on
    after = drive(VID, 7800, 600, start_m=26000, odometer0=26000)
    rest = parked(VID, 8430, 600, at_m=32000, odometer=32000)
    write(tmp_path, records=before + after + rest)
    build(tmp_path)
    [trip] = trips(tmp_path)
    # a 2-hour hole inside a trip: its track cannot be trusted there either
    assert trip["flags"] == ["gap_inferred", "sparse"]
    assert trip["longest_gap_s"] == 7200
    assert trip["distance_source"] == "odometer"
    assert trip["distance_km"] == pytest.approx(32.0)


def test_gps_distance_when_the_odometer_is_missing_or_not_sane(tmp_path: Path) -> None:
    no_odometer = drive(1, 0, 600, odometer0=None)
    no_odometer += parked(1, 630, 600, at_m=6000, odometer=None)
    jumping = drive(2, 0, 600, odometer0=0)
    jumping[10]["odometer"] += 50_000  # 50 km in 30 s: a broken odometer
    for row in jumping[11:]:
        row["odometer"] += 50_000
    jumping += parked(2, 630, 600, at_m=6000, odometer=56_000)
    write(tmp_path, records=no_odometer + jumping)
    build(tmp_path)
    for trip in trips(tmp_path):
        assert trip["distance_source"] == "gps"
        assert trip["distance_km"] == pytest.approx(6.0, rel=1e-3)


def test_an_odometer_reset_is_never_a_negative_distance(tmp_path: Path) -> None:
    rows = drive(VID, 0, 600, odometer0=900_000)
    for row in rows[10:]:  # the odometer restarts from 0 halfway
        row["odometer"] -= 900_000 + 3000
    rows += parked(VID, 630, 600, at_m=6000, odometer=rows[-1]["odometer"])
    write(tmp_path, records=rows)
    build(tmp_path)
    [trip] = trips(tmp_path)
    assert "odometer_reset" in trip["flags"]
    assert trip["distance_km"] == pytest.approx(6.0, rel=1e-3)


def test_an_open_trip_is_completed_by_a_later_run(tmp_path: Path) -> None:
    rows = drive(VID, 0, 1200, odometer0=0)  # 12 km, still driving when the data ends
    write(tmp_path, records=rows[:21])
    build(tmp_path)
    [open_trip] = trips(tmp_path)
    assert open_trip["is_open"] and open_trip["flags"] == ["open"]
    assert open_trip["end_reason"] == "open"

    write(tmp_path, records=rows[21:] + parked(VID, 1230, 120, at_m=12000, odometer=12000))
    build(tmp_path)
    [arrived] = trips(tmp_path)
    # arrived, but the stop is only 2 minutes old: it may still continue
    assert arrived["is_open"] and arrived["end_reason"] == "arrival"

    write(tmp_path, records=parked(VID, 1410, 600, at_m=12000, odometer=12000))
    build(tmp_path)
    [closed] = trips(tmp_path)
    assert not closed["is_open"] and closed["flags"] == []
    assert closed["trip_id"] == open_trip["trip_id"]  # deterministic: same trip, same id
    assert closed["end_time"] == at(1230)
    assert closed["distance_km"] == pytest.approx(12.0)


def test_trip_ids_are_deterministic_across_rebuilds(tmp_path: Path) -> None:
    rows = drive(VID, 0, 600, odometer0=0) + parked(VID, 630, 600, at_m=6000, odometer=6000)
    for name in ("one", "two"):
        write(tmp_path / name, records=rows)
        build(tmp_path / name)
    assert trips(tmp_path / "one")[0]["trip_id"] == trips(tmp_path / "two")[0]["trip_id"]


def test_idle_time_of_a_stop_is_ignition_on_time(tmp_path: Path) -> None:
    first = drive(VID, 0, 600, odometer0=0)
    # stands 11 min; switches the ignition on for 4 minutes without moving (not a trip:
    # 0 m), so those 4 minutes are idle time of the stop. rpm does not decide idle.
    stop = [record(VID, 630 + 60 * i, 6000, 0, odometer=6000, rpm=800) for i in range(11)]
    second = drive(VID, 1290, 600, start_m=6000, odometer0=6000)
    rest = parked(VID, 1920, 600, at_m=12000, odometer=12000)
    rows = first + stop + second + rest
    io = [ignition(r, 1.0 if r in first + second or r in stop[1:5] else 0.0) for r in rows]
    write(tmp_path, records=rows, record_io=io)
    build(tmp_path)
    [stop_row, _current] = query(tmp_path, "select * from marts.stops order by start_time")
    assert stop_row["duration_s"] == 1290 - 630
    assert stop_row["idle_s"] == 240


def test_a_motion_trip_counts_its_distance_from_the_last_record_at_rest(tmp_path: Path) -> None:
    rest = parked(VID, 0, 600, at_m=0, odometer=0)                  # until 600 s
    moving = drive(VID, 620, 600, start_m=200, odometer0=200)       # first seen 200 m away
    end = parked(VID, 1250, 600, at_m=6200, odometer=6200)
    write(tmp_path, records=rest + moving + end)
    build(tmp_path)
    [trip] = trips(tmp_path)
    assert trip["start_time"] == at(620)  # when motion is first seen ...
    assert trip["start_lon"] == pytest.approx(east(0))  # ... from where it stood
    assert trip["distance_km"] == pytest.approx(6.2)
    first_stop, _current = query(tmp_path, "select * from marts.stops order by start_time")
    # the stop before its first trip: from the first record seen, to the trip's start
    assert (first_stop["start_time"], first_stop["end_time"]) == (at(0), at(620))
    assert first_stop["flags"] == ["first"] and first_stop["idle_s"] is None  # no ignition


def test_ignition_that_arrives_late_rebuilds_the_trips_it_decides(tmp_path: Path) -> None:
    crawl = drive(VID, 0, 1200, speed_kmh=3, every_s=60, odometer0=0)
    rest = parked(VID, 1260, 900, at_m=1000, odometer=1000)
    write(tmp_path, records=crawl + rest)
    build(tmp_path)
    assert trips(tmp_path) == []  # by motion alone: too slow, too small steps
    io = [{"vid": VID, "uid": VID + 1000, "tmx": r["tmx"], "io": 1,
           "value": 1.0 if r in crawl else 0.0, "received_at": r["received_at"], "seq": 0}
          for r in crawl + rest]
    write(tmp_path, record_io=io)
    build(tmp_path)
    [trip] = trips(tmp_path)
    assert trip["detection"] == "ignition" and trip["distance_km"] == pytest.approx(1.0)


def test_a_trip_of_two_records_is_sparse_its_recorded_speeds_below_average(
        tmp_path: Path) -> None:
    # speed 0 reported, but 300 m further a minute later: a trip of two records
    rows = [record(VID, 0, 0, 0), record(VID, 60, 300, 0)]
    rows += parked(VID, 120, 900, at_m=300, odometer=None)
    write(tmp_path, records=rows)
    build(tmp_path)
    [trip] = trips(tmp_path)
    assert trip["n_records"] == 2 and trip["longest_gap_s"] == 60
    # avg is distance / duration (18 km/h), max the top recorded speed (0): not a road
    assert trip["max_speed_kmh"] == 0 and trip["avg_speed_kmh"] == pytest.approx(18, rel=1e-3)
    assert trip["flags"] == ["sparse"]


def test_a_hole_of_minutes_inside_a_trip_makes_it_sparse(tmp_path: Path) -> None:
    before = drive(VID, 0, 600, odometer0=0)                            # to 6000 m
    # 6 minutes without a record while driving on at 36 km/h
    after = drive(VID, 960, 600, start_m=9600, odometer0=9600)          # to 15600 m
    rows = before + after + parked(VID, 1590, 900, at_m=15600, odometer=15600)
    write(tmp_path / "default", records=rows)
    build(tmp_path / "default")
    [trip] = trips(tmp_path / "default")
    assert trip["longest_gap_s"] == 360 and trip["flags"] == ["sparse"]
    assert trip["n_records"] == len(before) + len(after) + 1
    # the threshold is configurable
    write(tmp_path / "lenient", records=rows)
    build(tmp_path / "lenient", WarehouseConfig(sparse_gap_s=400))
    [trip] = trips(tmp_path / "lenient")
    assert trip["flags"] == []


def test_a_dense_trip_is_not_sparse_and_its_top_speed_is_at_least_its_average(
        tmp_path: Path) -> None:
    rows = drive(VID, 0, 600, odometer0=0) + parked(VID, 630, 900, at_m=6000, odometer=6000)
    write(tmp_path, records=rows)
    build(tmp_path)
    [trip] = trips(tmp_path)
    assert trip["longest_gap_s"] == 30 and trip["flags"] == []
    assert trip["max_speed_kmh"] >= trip["avg_speed_kmh"]


def test_an_old_ignition_off_reading_does_not_hide_a_later_drive(tmp_path: Path) -> None:
    # the device reports I/O on change only: 'off' at 0 s, the 'on' before the drive lost
    rest = parked(VID, 0, 600, at_m=0, odometer=0)
    moving = drive(VID, 7200, 600, odometer0=0)                          # 6 km, 2 h later
    end = parked(VID, 7830, 900, at_m=6000, odometer=6000)
    write(tmp_path, records=rest + moving + end, record_io=[ignition(rest[0], 0.0)])
    build(tmp_path)
    [trip] = trips(tmp_path)
    # the reading is older than max_gap_s: motion rules decide
    assert trip["detection"] == "motion" and trip["distance_km"] == pytest.approx(6.0)
    assert trip["idle_s"] is None  # no ignition known during the trip


def test_switching_the_ignition_off_ends_the_trip_even_for_a_short_stop(
        tmp_path: Path) -> None:
    first = drive(VID, 0, 600, odometer0=0)
    # ignition off for 2 minutes (less than min_stop_s), then on again and away
    pause = parked(VID, 630, 120, at_m=6000, odometer=6000)
    second = drive(VID, 780, 600, start_m=6000, odometer0=6000)
    end = parked(VID, 1410, 600, at_m=12000, odometer=12000)
    rows = first + pause + second + end
    io = [ignition(r, 1.0 if r in first or r in second else 0.0) for r in rows]
    write(tmp_path, records=rows, record_io=io)
    build(tmp_path)
    assert [(t["start_time"], t["end_time"]) for t in trips(tmp_path)] == [
        (at(0), at(630)), (at(780), at(1410)),
    ]
    [stop, _current] = stops(tmp_path)
    assert (stop["start_time"], stop["end_time"]) == (at(630), at(780))
