"""Traccar's own trip and stop report cases, run through the warehouse's trip rules.

The twelve cases (inputs and expected values) are those of Traccar's
``src/test/java/org/traccar/reports/ReportUtilsTest.java`` (github.com/traccar/traccar,
Apache License 2.0, copyright Anton Tananaev): ``testDetectTripsSimple`` ...
``testDetectStopByGap``. They are facts about Traccar's reports, restated here as data.

How they map onto this project:

* Traccar speeds are knots: records carry ``knots * 1.852`` km/h and the expected speeds
  are compared in knots. Its ``totalDistance`` is the odometer. Its positions carry no
  coordinates: here they all stand at (0, 0), so motion comes from speed alone.
* The device thresholds of each case become a ``WarehouseConfig``: minimal parking
  duration -> ``min_stop_s``; minimal no-data duration -> ``max_gap_s``; minimal trip
  distance -> ``min_trip_m``; Traccar's test marks a position in motion when its speed
  is > 0 -> ``min_speed_kmh = 0``. An ignition reading (``useIgnition``) is a
  ``core.record_io`` row of I/O 1.

Differences that remain by design (none changes an expected value below):

* Traccar also confirms a trip by its duration (minimal trip duration); here only its
  distance counts (``min_trip_m``): a long slow crawl is not a trip.
* ``testDetectTripsSimple`` and its variants report 3000 m in 3 minutes (32.4 kn) while no
  recorded speed is above 10 kn: here that trip is flagged ``sparse`` (recorded speeds all
  below the average: the track cannot be trusted). Traccar has no such flag.
* Upstream asserts only the first trip or stop of some cases; here the whole list is
  compared, so nothing else may be found either.
* The stops here carry flags Traccar does not have: ``first`` (the stop before the first
  trip: the vehicle may have stood there longer, unseen) and ``open`` (the stop it is in
  now, which later data extends).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from warehouse_handmade import build, query, stops, trips, write

from warehouse.config import WarehouseConfig

KNOT_KMH = 1.852
VID = 11


@dataclass(frozen=True)
class Device:
    """The thresholds of Traccar's ``mockDevice`` in a test."""

    minimal_trip_distance_m: float
    minimal_trip_duration_s: float  # no counterpart here (see the module docstring)
    minimal_parking_duration_s: float
    minimal_no_data_duration_s: float
    use_ignition: bool

    def config(self) -> WarehouseConfig:
        return WarehouseConfig(
            min_speed_kmh=0.0,
            min_stop_s=self.minimal_parking_duration_s,
            max_gap_s=self.minimal_no_data_duration_s,
            min_trip_m=self.minimal_trip_distance_m,
        )


@dataclass(frozen=True)
class Case:
    name: str
    device: Device
    positions: list[tuple[str, float, float]]  # (time, speed in knots, total distance m)
    ignition_off_at: str | None = None  # the one position upstream sets ignition=false on
    trips: list[tuple[str, str, float, float, float, float]] | None = None
    # (start, end, duration s, average knots, max knots, distance m)
    stops: list[tuple[str, str, float]] | None = None  # (start, end, duration s)


SIMPLE = [
    ("00:00:00", 0, 0), ("00:01:00", 0, 0), ("00:02:00", 10, 0), ("00:03:00", 10, 1000),
    ("00:04:00", 10, 2000), ("00:05:00", 0, 3000), ("00:15:00", 0, 3000),
    ("00:25:00", 0, 3000),
]
FLUCTUATION = [
    ("00:00:00", 0, 0), ("00:01:00", 0, 0), ("00:02:00", 10, 0), ("00:03:00", 10, 1000),
    ("00:04:00", 10, 2000), ("00:05:00", 10, 3000), ("00:06:00", 10, 4000),
    ("00:07:00", 0, 5000), ("00:08:00", 10, 6000), ("00:09:00", 0, 7000),
    ("00:19:00", 0, 7000), ("00:29:00", 0, 7000),
]
GAP = [
    ("00:00:00", 7, 100), ("00:01:00", 7, 300), ("00:02:00", 5, 500), ("00:03:00", 5, 600),
    ("00:04:00", 3, 700), ("00:23:00", 2, 700), ("00:24:00", 5, 800), ("00:25:00", 5, 900),
]
DEVICE_180 = Device(500, 300, 180, 900, use_ignition=False)
DEVICE_180_IGNITION = Device(500, 300, 180, 900, use_ignition=True)
DEVICE_200 = Device(500, 300, 200, 900, use_ignition=False)
DEVICE_GAP = Device(500, 200, 200, 900, use_ignition=False)

SIMPLE_TRIP = ("00:02:00", "00:05:00", 180, 32.4, 10, 3000)
SIMPLE_STOPS = [("00:00:00", "00:02:00", 120), ("00:05:00", "00:25:00", 1200)]

CASES = [
    Case("testDetectTripsSimple", DEVICE_180, SIMPLE, trips=[SIMPLE_TRIP]),
    Case("testDetectStopsSimple", DEVICE_180, SIMPLE, stops=SIMPLE_STOPS),
    Case("testDetectTripsSimpleWithIgnition", DEVICE_180_IGNITION, SIMPLE,
         ignition_off_at="00:05:00", trips=[SIMPLE_TRIP]),
    Case("testDetectStopsSimpleWithIgnition", DEVICE_180_IGNITION, SIMPLE,
         ignition_off_at="00:05:00", stops=SIMPLE_STOPS),
    Case("testDetectTripsWithFluctuation", DEVICE_180, FLUCTUATION,
         trips=[("00:02:00", "00:09:00", 420, 32.4, 10, 7000)]),
    Case("testDetectStopsWithFluctuation", DEVICE_180, FLUCTUATION,
         stops=[("00:00:00", "00:02:00", 120), ("00:09:00", "00:29:00", 1200)]),
    Case("testDetectStopsOnly", DEVICE_200,
         [("00:00:00", 0, 0), ("00:01:00", 0, 0), ("00:02:00", 1, 0), ("00:03:00", 0, 0),
          ("00:04:00", 1, 0), ("00:05:00", 0, 0)],
         stops=[("00:00:00", "00:05:00", 300)]),
    Case("testDetectStopsWithTripCut", DEVICE_200,
         [("00:00:00", 0, 0), ("00:01:00", 0, 0), ("00:02:00", 0, 0), ("00:03:00", 0, 0),
          ("00:04:00", 1, 0), ("00:05:00", 2, 0)],
         stops=[("00:00:00", "00:05:00", 300)]),
    Case("testDetectStopsStartedFromTrip", DEVICE_200,
         [("00:00:00", 2, 0), ("00:01:00", 1, 0), ("00:02:00", 0, 0), ("00:12:00", 0, 0),
          ("00:22:00", 0, 0), ("00:32:00", 0, 0)],
         stops=[("00:02:00", "00:32:00", 1800)]),
    Case("testDetectStopsMoving", DEVICE_200,
         [("00:00:00", 5, 0), ("00:01:00", 5, 0), ("00:02:00", 3, 0), ("00:03:00", 5, 0),
          ("00:04:00", 5, 0), ("00:05:00", 5, 0)],
         stops=[]),
    Case("testDetectTripByGap", DEVICE_GAP, GAP,
         trips=[("00:00:00", "00:04:00", 240, 4.86, 7, 600)]),
    Case("testDetectStopByGap", DEVICE_GAP, GAP, stops=[("00:04:00", "00:25:00", 1260)]),
]


def moment(clock: str) -> datetime:
    return datetime.fromisoformat(f"2016-01-01T{clock}+00:00").astimezone(UTC)


def core_rows(case: Case) -> dict[str, list[dict[str, Any]]]:
    records, record_io = [], []
    for seq, (clock, knots, total_distance) in enumerate(case.positions, start=1):
        tmx = moment(clock)
        records.append({
            "uid": VID + 1000, "vid": VID, "tmx": tmx, "received_at": tmx,
            "source": "records", "lat": 0.0, "lon": 0.0, "speed_kmh": knots * KNOT_KMH,
            "odometer": int(total_distance), "seq": seq,
        })
        if case.device.use_ignition and clock == case.ignition_off_at:
            record_io.append({"vid": VID, "uid": VID + 1000, "tmx": tmx, "io": 1,
                              "value": 0.0, "received_at": tmx, "seq": seq})
    return {"records": records, "record_io": record_io} if record_io else {"records": records}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_traccar_report_case(case: Case, tmp_path: Path) -> None:
    write(tmp_path, **core_rows(case))
    build(tmp_path, case.device.config())
    if case.trips is not None:
        found = trips(tmp_path)
        assert [(t["start_time"], t["end_time"]) for t in found] == [
            (moment(start), moment(end)) for start, end, *_ in case.trips
        ]
        measures = [(t["duration_s"], t["avg_speed_kmh"] / KNOT_KMH,
                     t["max_speed_kmh"] / KNOT_KMH, t["distance_km"] * 1000) for t in found]
        for got, (*_, duration, average, top, distance) in zip(measures, case.trips,
                                                                strict=True):
            assert got == pytest.approx((duration, average, top, distance), abs=0.01)
    if case.stops is not None:
        found_stops = [(s["start_time"], s["end_time"], s["duration_s"]) for s in stops(tmp_path)]
        assert found_stops == [(moment(start), moment(end), duration)
                               for start, end, duration in case.stops]


def test_the_simple_trip_is_sparse_its_speeds_are_below_its_average(tmp_path: Path) -> None:
    write(tmp_path, **core_rows(CASES[0]))
    build(tmp_path, CASES[0].device.config())
    [trip] = trips(tmp_path)
    assert trip["flags"] == ["sparse"] and trip["max_speed_kmh"] < trip["avg_speed_kmh"]
    [first, current] = query(tmp_path, "select flags from marts.stops order by start_time")
    assert (first["flags"], current["flags"]) == (["first"], ["open"])
