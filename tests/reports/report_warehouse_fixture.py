"""A small, real warehouse with hand-made rows whose figures are known.

Shared by the report tests (through ``conftest.py``) and the docs test.

The warehouse is the DuckLake of a data directory (``lake.ducklake``), created as a build
creates it: the ``core`` and ``meta`` tables by ``warehouse.database.ensure_schemas``, each
mart's table from its declaration (``marts.MARTS[name].ddl()``), so every row here keeps
the marts' contract (their NOT NULL columns included). Only ``core.records`` gets core
rows: the route lines, a record a minute, with a 10-minute hole in T2. ``meta.builds``
says the build's days are UTC days. The report's day is ``REPORT_DAY`` (UTC); a few rows
on the day before check that nothing leaks across days, and ``EMPTY_DAY`` has no activity.

As in a real build, ``vehicle_daily`` counts a trip or stop on the day it starts.
Known figures of ``REPORT_DAY``: 3 vehicles active (101, 102, 103), 2 of them drove,
3 trips start on the day (T1, T2, T4) and T3 runs into it from the evening before,
67.7 km, 7500 s driving, 1800 s idle (102 never reported its ignition: unknown), top
speed 95 km/h; 2 overspeed episodes; 1 silent vehicle (103); 2 place visits; 2 deliveries
(1 delivered); 4 messages sent (3 delivered, 2 read, 1 error); I/O 1 changed 5 times
(3 rises, 2 falls), I/O 2 once (its first value, in ``marts.io_state``, is no change).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from lake.ducklake import writing_warehouse
from marts import MARTS
from warehouse.database import ensure_schemas

REPORT_DAY = date(2026, 3, 10)
PREVIOUS_DAY = date(2026, 3, 9)
EMPTY_DAY = date(2026, 3, 20)

OPTIONAL_MARTS = ("vehicle_status", "overspeed", "driver_daily", "io_state",
                  "place_visits", "deliveries")
"""Marts a warehouse built before they were declared lacks (``with_optional_marts=False``)."""

BUILD_SETTINGS = {"timezone": "UTC", "sparse_gap_s": 300.0, "max_gap_s": 3600.0,
                  "min_stop_s": 300.0, "min_speed_kmh": 5.0, "silent_after_s": 3600.0,
                  "speed_limit_kmh": 120.0}

LOAD_ID = 1
"""The one load the known rows of ``core.records`` come from."""


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=UTC)


D, P = REPORT_DAY, PREVIOUS_DAY

# trip_id, vid, start, end, distance_km, source, max speed, start (lat, lon), end, flags,
# idle_s, driver card
TRIPS = [
    ("T1", 101, at(D, 7), at(D, 7, 45), 30.2, "odometer", 92.0, (38.70, -9.14), (38.80, -9.00),
     [], 300.0, "0012345"),
    ("T2", 101, at(D, 12), at(D, 12, 30), 12.5, "gps", 60.0, (38.80, -9.00), (38.75, -9.10),
     ["sparse"], 0.0, "0012345"),
    ("T3", 102, at(P, 23, 30), at(D, 0, 20), 40.0, "odometer", 110.0, (41.15, -8.61),
     (40.64, -8.65), [], None, "0099999"),
    ("T4", 102, at(D, 16), at(D, 16, 50), 25.0, "odometer", 95.0, (40.64, -8.65),
     (40.20, -8.41), ["open"], None, None),
    ("T5", 101, at(P, 10), at(P, 11), 50.0, "odometer", 100.0, (38.70, -9.14),
     (39.20, -8.70), [], 100.0, "0012345"),
]
HOLE = ("T2", at(D, 12, 10), at(D, 12, 20))
"""T2 has no record in this span: a 600 s step, longer than sparse_gap_s."""

AS_OF = at(D, 18)
"""The latest device time of the build: where the open stop ends for now."""

# vid, start, end (None: the stop the vehicle is in now), lat, lon, idle_s, flags
STOPS = [
    (101, at(D, 7, 45), at(D, 12), 38.80, -9.00, 300.0, []),
    (102, at(D, 0, 20), at(D, 16), 40.64, -8.65, None, []),
    (103, at(D, 9), at(D, 10), 39.50, -8.90, 1200.0, ["first"]),
    (101, at(D, 12, 30), None, 38.75, -9.10, 0.0, ["open"]),
]

# vid, day, trips, distance_km, driving_s, idle_s, max_speed, overspeed episodes,
# first_seen, last_seen
VEHICLE_DAILY = [
    (101, D, 2, 42.7, 4500.0, 600.0, 92.0, 1, at(D, 6, 55), at(D, 12, 40)),
    (102, D, 1, 25.0, 3000.0, None, 95.0, 1, at(D, 0, 0), at(D, 16, 50)),
    (103, D, 0, 0.0, 0.0, 1200.0, 0.0, 0, at(D, 9), at(D, 10)),
    (101, P, 1, 50.0, 3600.0, 100.0, 100.0, 1, at(P, 9, 50), at(P, 11, 5)),
    (102, P, 1, 40.0, 3000.0, None, 110.0, 0, at(P, 23, 25), at(P, 23, 59)),
]

# vid, trip_id, driver card, start, seconds, max speed, distance_km, limit
OVERSPEED = [
    (101, "T1", "0012345", at(D, 7, 20), 120.0, 92.0, 2.8, 80.0),
    (102, "T4", None, at(D, 16, 30), 60.0, 95.0, 1.5, 90.0),
    (101, "T5", "0012345", at(P, 10, 30), 90.0, 100.0, 2.4, 90.0),
]

# vid, state, last_seen, silent_s
VEHICLE_STATUS = [
    (101, "stopped", at(D, 17, 55), 300.0),
    (102, "moving", at(D, 18), 0.0),
    (103, "silent", at(D, 10), 28800.0),
]

# vid, place, kind, arrived, left, trip in, trip out
PLACE_VISITS = [
    (101, "Depot Lisboa", "named", at(D, 7, 45), at(D, 12), "T1", "T2"),
    (102, "Aveiro", "discovered", at(D, 0, 20), at(D, 16), "T3", "T4"),
    (101, "Depot Lisboa", "named", at(P, 11), at(P, 12), "T5", None),
]

# vid, service_id, tmx, delivered, message, place
DELIVERIES = [
    (101, "S1", at(D, 8), True, "left at the door", "Depot Lisboa"),
    (101, "S2", at(D, 12, 40), False, "<b>closed</b>", None),
    (102, "S3", at(P, 20), True, "ok", None),
]

# message_id, sent_at, seconds to delivered, seconds to read, error?, final status
MESSAGES = [
    ("m1", at(D, 8), 5.0, 65.0, False, "read"),
    ("m2", at(D, 9), 12.0, 300.0, False, "read"),
    ("m3", at(D, 10), 3.0, None, False, "delivered"),
    ("m4", at(D, 11), None, None, True, "error"),
    ("m5", at(P, 11), 4.0, 10.0, False, "read"),
]

# vid, io, changed_at, from_value, to_value, seconds_in_previous_state
IO_CHANGES = [
    (101, 1, at(D, 7), 0.0, 1.0, 3600.0),
    (101, 1, at(D, 7, 45), 1.0, 0.0, 2700.0),
    (101, 1, at(D, 12), 0.0, 1.0, 15300.0),
    (101, 1, at(D, 12, 30), 1.0, 0.0, 1800.0),
    (102, 1, at(D, 16), 0.0, 1.0, 56400.0),
    (103, 2, at(D, 10), 1.0, 0.0, 3600.0),
    (101, 1, at(P, 10), 0.0, 1.0, 7200.0),
]

# vid, io, value, since, first_seen, first_value, changes
IO_STATE = [
    (101, 1, 0.0, at(D, 12, 30), at(P, 10), 0.0, 6),
    (103, 2, 0.0, at(D, 10), at(D, 9), 1.0, 1),  # first seen at 09:00: a value, no change
]

# uid, kind, tmx, device→server s, server→pipeline s
EVENTS = [
    (501, "event", at(D, 7), 2.0, 0.5),
    (501, "event", at(D, 12), 4.0, 0.7),
    (502, "event", at(D, 16), 30.0, 0.6),
    (501, "driver_message", at(D, 9, 5), 1.5, 0.4),
    (501, "event", at(P, 10), 99.0, 9.9),
]


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Insert rows given by column name (the columns a row leaves out stay NULL), as one
    statement: one data file per table, as a build writes."""
    batch = pa.Table.from_pylist(list(rows))
    if batch.num_rows:
        con.register("fixture_rows", batch)
        con.execute(f"insert into {table} by name select * from fixture_rows")
        con.unregister("fixture_rows")


def _route(start: tuple[float, float], end: tuple[float, float], steps: int
           ) -> list[tuple[float, float]]:
    """A slightly bent line from start to end, so the map shows more than a segment."""
    points = []
    for i in range(steps + 1):
        f = i / steps
        bend = 0.02 * f * (1 - f)
        points.append((start[0] + (end[0] - start[0]) * f + bend,
                       start[1] + (end[1] - start[1]) * f - bend))
    return points


def _trips_and_records(con: duckdb.DuckDBPyConnection) -> None:
    trips: list[dict[str, Any]] = []
    records_rows: list[dict[str, Any]] = []
    for trip_id, vid, start, end, km, source, vmax, a, b, flags, idle, card in TRIPS:
        duration = (end - start).total_seconds()
        minutes = int(duration // 60)
        records = [(start + timedelta(minutes=i), point)
                   for i, point in enumerate(_route(a, b, minutes))
                   if not (trip_id == HOLE[0] and HOLE[1] < start + timedelta(minutes=i)
                           < HOLE[2])]
        steps = [(t2 - t1).total_seconds() for (t1, _), (t2, _) in pairwise(records)]
        is_open = "open" in flags
        trips.append({
            "trip_id": trip_id, "vid": vid, "uid": vid + 400, "start_time": start,
            "end_time": end, "duration_s": duration, "start_lat": a[0], "start_lon": a[1],
            "end_lat": b[0], "end_lon": b[1], "distance_km": km, "distance_source": source,
            "gps_distance_km": km * 1.02, "max_speed_kmh": vmax,
            "avg_speed_kmh": km / (duration / 3600), "n_records": len(records),
            "longest_gap_s": max(steps), "idle_s": idle, "driver_card": card,
            "detection": "ignition", "flags": flags, "is_open": is_open,
            "end_reason": "open" if is_open else "arrival",
        })
        records_rows.extend({
            "uid": vid + 400, "vid": vid, "tmx": tmx, "received_at": tmx + timedelta(seconds=3),
            "source": "records", "lat": lat, "lon": lon, "speed_kmh": 50.0, "seq": i,
            "_load_id": LOAD_ID,
        } for i, (tmx, (lat, lon)) in enumerate(records))
    insert(con, "marts.trips", trips)
    insert(con, "core.records", records_rows)


def fill(con: duckdb.DuckDBPyConnection) -> None:
    """Insert the known rows into the marts every warehouse has and ``core.records``."""
    con.execute("insert into meta.loads values (?, ?, 0, 0)", [LOAD_ID, at(D, 18, 1)])
    _trips_and_records(con)
    insert(con, "marts.vehicle_daily", (dict(zip(
        ("vid", "day", "trips", "distance_km", "driving_s", "idle_s", "max_speed_kmh",
         "overspeed_episodes", "first_seen", "last_seen"), row, strict=True))
        for row in VEHICLE_DAILY))
    messages = []
    for message_id, sent, to_delivered, to_read, error, status in MESSAGES:
        def after(seconds: float | None, base: datetime = sent) -> datetime | None:
            return None if seconds is None else base + timedelta(seconds=seconds)
        messages.append({
            "message_id": message_id, "guid": f"guid-{message_id}", "uid": 501,
            "sent_at": sent, "processed_at": after(1.0), "pending_at": after(2.0),
            "delivered_at": after(to_delivered), "read_at": after(to_read),
            "error_at": after(6.0) if error else None, "seconds_to_delivered": to_delivered,
            "seconds_to_read": to_read, "final_status": status,
        })
    insert(con, "marts.message_latency", messages)
    insert(con, "marts.io_changes", ({
        "vid": vid, "uid": vid + 400, "io": io, "changed_at": changed, "from_value": old,
        "to_value": new, "previous_changed_at": changed - timedelta(seconds=previous_s),
        "seconds_in_previous_state": previous_s, "source": "io_event",
    } for vid, io, changed, old, new, previous_s in IO_CHANGES))
    events = []
    for uid, kind, tmx, to_server, to_pipeline in EVENTS:
        rmx = tmx + timedelta(seconds=to_server)
        events.append({
            "kind": kind, "source_id": f"{uid}-{kind}-{tmx.isoformat()}", "uid": uid,
            "vid": uid - 400, "tmx": tmx, "rmx": rmx,
            "received_at": rmx + timedelta(seconds=to_pipeline),
            "device_to_server_s": to_server, "server_to_pipeline_s": to_pipeline,
        })
    insert(con, "marts.event_latency", events)
    insert(con, "marts.stops", ({
        "vid": vid, "start_time": start, "end_time": end or AS_OF,
        "duration_s": ((end or AS_OF) - start).total_seconds(), "lat": lat, "lon": lon,
        "idle_s": idle, "is_open": end is None, "flags": flags,
    } for vid, start, end, lat, lon, idle, flags in STOPS))
    con.execute("insert into meta.builds values (?, ?, ?)",
                [LOAD_ID, at(D, 18, 5), json.dumps(BUILD_SETTINGS)])


def fill_optional(con: duckdb.DuckDBPyConnection) -> None:
    """Rows of the marts that a warehouse may not have yet (``OPTIONAL_MARTS``)."""
    insert(con, "marts.overspeed", ({
        "episode_id": f"{trip_id}-{start:%H%M}", "vid": vid, "uid": vid + 400,
        "trip_id": trip_id, "driver_card": card, "start_time": start,
        "end_time": start + timedelta(seconds=seconds), "duration_s": seconds,
        "max_speed_kmh": vmax, "avg_speed_kmh": vmax - 5, "distance_km": km,
        "limit_kmh": limit, "start_lat": 38.7, "start_lon": -9.1,
        "n_records": int(seconds // 30) + 1, "end_reason": "under_limit",
    } for vid, trip_id, card, start, seconds, vmax, km, limit in OVERSPEED))
    insert(con, "marts.vehicle_status", ({
        "vid": vid, "uid": vid + 400, "as_of": AS_OF, "last_seen": last_seen,
        "last_received_at": last_seen, "lat": 39.5, "lon": -8.9, "speed_kmh": 0.0,
        "heading": 0.0, "ignition": False, "state": state, "silent_s": silent_s,
    } for vid, state, last_seen, silent_s in VEHICLE_STATUS))
    insert(con, "marts.place_visits", ({
        "vid": vid, "place": place, "kind": kind, "arrived_at": arrived, "left_at": left,
        "dwell_s": (left - arrived).total_seconds(), "trip_id_in": trip_in,
        "trip_id_out": trip_out, "lat": 38.8, "lon": -9.0, "is_open": False, "flags": [],
    } for vid, place, kind, arrived, left, trip_in, trip_out in PLACE_VISITS))
    insert(con, "marts.deliveries", ({
        "service_event_id": f"{vid}-{service}", "vid": vid, "uid": vid + 400,
        "service_id": service, "tmx": tmx, "delivered": delivered, "message": message,
        "lat": 38.8, "lon": -9.0, "place": place,
    } for vid, service, tmx, delivered, message, place in DELIVERIES))
    insert(con, "marts.driver_daily", [{
        "driver_card": "0012345", "day": D, "vehicles": 1, "trips": 2, "distance_km": 42.7,
        "driving_s": 4500.0, "idle_s": 600.0, "overspeed_episodes": 1,
    }])
    insert(con, "marts.io_state", ({
        "vid": vid, "uid": vid + 400, "io": io, "value": value, "since": since,
        "first_seen": first_seen, "first_value": first_value, "last_read_at": AS_OF,
        "changes": changes,
    } for vid, io, value, since, first_seen, first_value, changes in IO_STATE))


def build_known_warehouse(data_dir: Path, *, with_rows: bool = True,
                          with_optional_marts: bool = True) -> Path:
    """Create the warehouse of ``data_dir`` with the marts (and rows unless told not to);
    ``with_optional_marts=False``: a warehouse built before the newer marts existed.
    Returns ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with writing_warehouse(data_dir) as con:
        ensure_schemas(con)
        con.execute("begin transaction")
        for name, mart in MARTS.items():
            if with_optional_marts or name not in OPTIONAL_MARTS:
                con.execute(mart.ddl())
        if with_rows:
            fill(con)
            if with_optional_marts:
                fill_optional(con)
        con.execute("commit")
    return data_dir
