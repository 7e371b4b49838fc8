"""A small, real warehouse.duckdb with hand-made rows whose figures are known.

Shared by the report tests (through ``conftest.py``) and the notebook test.

The ``marts`` tables have the columns the report reads (those of docs/warehouse.md, and
of the marts ``vehicle_status``, ``overspeed``, ``driver_daily``, ``io_state``,
``place_visits`` and ``deliveries``); the ``core`` tables are created from
``schemas.core_tables`` (only ``core.records`` gets rows: the route lines, a record a
minute, with a 10-minute hole in T2). ``meta.build_settings`` says the build's days are
UTC days. The report's day is ``REPORT_DAY`` (UTC); a few rows on the day before check that
nothing leaks across days, and ``EMPTY_DAY`` has no activity at all.

As in a real build, ``vehicle_daily`` counts a trip or stop on the day it starts.
Known figures of ``REPORT_DAY``: 3 vehicles active (101, 102, 103), 2 of them drove,
3 trips start on the day (T1, T2, T4) and T3 runs into it from the evening before,
67.7 km, 7500 s driving, 1800 s idle (102 never reported its ignition: unknown), top
speed 95 km/h; 2 overspeed episodes; 1 silent vehicle (103); 2 place visits; 2 deliveries
(1 delivered); 4 messages sent (3 delivered, 2 read, 1 error); I/O 1 changed 5 times
(3 rises, 2 falls), I/O 2 once (its first value ever seen is not a change).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import duckdb

from schemas.core_tables import CORE_TABLES

REPORT_DAY = date(2026, 3, 10)
PREVIOUS_DAY = date(2026, 3, 9)
EMPTY_DAY = date(2026, 3, 20)

MART_DDL = """
CREATE SCHEMA IF NOT EXISTS marts;
CREATE TABLE marts.trips (
    trip_id VARCHAR, vid BIGINT, uid BIGINT, start_time TIMESTAMPTZ, end_time TIMESTAMPTZ,
    duration_s DOUBLE, start_lat DOUBLE, start_lon DOUBLE, end_lat DOUBLE, end_lon DOUBLE,
    distance_km DOUBLE, distance_source VARCHAR, gps_distance_km DOUBLE,
    max_speed_kmh DOUBLE, avg_speed_kmh DOUBLE, n_records BIGINT, driver_card VARCHAR,
    detection VARCHAR, flags VARCHAR[], idle_s DOUBLE, longest_gap_s DOUBLE, is_open BOOLEAN
);
CREATE TABLE marts.stops (
    vid BIGINT, start_time TIMESTAMPTZ, end_time TIMESTAMPTZ, duration_s DOUBLE,
    lat DOUBLE, lon DOUBLE, idle_s DOUBLE, is_open BOOLEAN, flags VARCHAR[]
);
CREATE TABLE marts.io_changes (
    vid BIGINT, uid BIGINT, io INTEGER, changed_at TIMESTAMPTZ, from_value DOUBLE,
    to_value DOUBLE, previous_changed_at TIMESTAMPTZ, seconds_in_previous_state DOUBLE,
    source VARCHAR
);
CREATE TABLE marts.message_latency (
    message_id VARCHAR, uid BIGINT, sent_at TIMESTAMPTZ, processed_at TIMESTAMPTZ,
    pending_at TIMESTAMPTZ, delivered_at TIMESTAMPTZ, read_at TIMESTAMPTZ,
    error_at TIMESTAMPTZ, seconds_to_delivered DOUBLE, seconds_to_read DOUBLE,
    final_status VARCHAR
);
CREATE TABLE marts.event_latency (
    uid BIGINT, vid BIGINT, kind VARCHAR, tmx TIMESTAMPTZ, rmx TIMESTAMPTZ, received_at TIMESTAMPTZ,
    device_to_server_s DOUBLE, server_to_pipeline_s DOUBLE
);
CREATE TABLE marts.vehicle_daily (
    vid BIGINT, day DATE, trips BIGINT, distance_km DOUBLE, driving_s DOUBLE, idle_s DOUBLE,
    max_speed_kmh DOUBLE, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ
);
"""

OPTIONAL_MART_DDL = """
CREATE TABLE marts.vehicle_status (
    vid BIGINT, uid BIGINT, as_of TIMESTAMPTZ, last_seen TIMESTAMPTZ,
    last_received_at TIMESTAMPTZ, lat DOUBLE, lon DOUBLE, speed_kmh DOUBLE, heading DOUBLE,
    ignition BOOLEAN, driver_card VARCHAR, state VARCHAR, silent_s DOUBLE,
    current_trip_id VARCHAR
);
CREATE TABLE marts.overspeed (
    vid BIGINT, uid BIGINT, trip_id VARCHAR, driver_card VARCHAR, start_time TIMESTAMPTZ,
    end_time TIMESTAMPTZ, duration_s DOUBLE, max_speed_kmh DOUBLE, avg_speed_kmh DOUBLE,
    distance_km DOUBLE, limit_kmh DOUBLE, start_lat DOUBLE, start_lon DOUBLE
);
CREATE TABLE marts.driver_daily (
    driver_card VARCHAR, day DATE, vehicles BIGINT, trips BIGINT, distance_km DOUBLE,
    driving_s DOUBLE, idle_s DOUBLE, overspeed_episodes BIGINT
);
CREATE TABLE marts.io_state (
    vid BIGINT, uid BIGINT, io INTEGER, value DOUBLE, since TIMESTAMPTZ,
    first_seen TIMESTAMPTZ
);
CREATE TABLE marts.place_visits (
    vid BIGINT, place VARCHAR, kind VARCHAR, arrived_at TIMESTAMPTZ, left_at TIMESTAMPTZ,
    dwell_s DOUBLE, trip_id_in VARCHAR, trip_id_out VARCHAR
);
CREATE TABLE marts.deliveries (
    vid BIGINT, service_id VARCHAR, tmx TIMESTAMPTZ, delivered BOOLEAN, message VARCHAR,
    lat DOUBLE, lon DOUBLE, place VARCHAR
);
"""

BUILD_SETTINGS = {"timezone": "UTC", "sparse_gap_s": 300.0, "max_gap_s": 3600.0,
                  "min_stop_s": 300.0, "min_speed_kmh": 5.0, "silent_after_s": 3600.0}

META_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE meta.builds (build_id BIGINT PRIMARY KEY, built_at TIMESTAMPTZ NOT NULL,
                          settings JSON NOT NULL);
CREATE VIEW meta.build_settings AS
    SELECT key, value ->> '$' AS value
    FROM json_each((SELECT settings FROM meta.builds ORDER BY build_id DESC LIMIT 1));
"""


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

# vid, start, end, lat, lon, idle_s, flags
STOPS = [
    (101, at(D, 7, 45), at(D, 12), 38.80, -9.00, 300.0, []),
    (102, at(D, 0, 20), at(D, 16), 40.64, -8.65, None, []),
    (103, at(D, 9), at(D, 10), 39.50, -8.90, 1200.0, ["first"]),
    (101, at(D, 12, 30), None, 38.75, -9.10, 0.0, ["open"]),
]

# vid, day, trips, distance_km, driving_s, idle_s, max_speed, first_seen, last_seen
VEHICLE_DAILY = [
    (101, D, 2, 42.7, 4500.0, 600.0, 92.0, at(D, 6, 55), at(D, 12, 40)),
    (102, D, 1, 25.0, 3000.0, None, 95.0, at(D, 0, 0), at(D, 16, 50)),
    (103, D, 0, 0.0, 0.0, 1200.0, 0.0, at(D, 9), at(D, 10)),
    (101, P, 1, 50.0, 3600.0, 100.0, 100.0, at(P, 9, 50), at(P, 11, 5)),
    (102, P, 1, 40.0, 3000.0, None, 110.0, at(P, 23, 25), at(P, 23, 59)),
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
    (103, 2, at(D, 9), None, 1.0, None),
    (103, 2, at(D, 10), 1.0, 0.0, 3600.0),
    (101, 1, at(P, 10), 0.0, 1.0, 7200.0),
]

# uid, kind, tmx, device→server s, server→pipeline s
EVENTS = [
    (501, "event", at(D, 7), 2.0, 0.5),
    (501, "event", at(D, 12), 4.0, 0.7),
    (502, "event", at(D, 16), 30.0, 0.6),
    (501, "driver_message", at(D, 9, 5), 1.5, 0.4),
    (501, "event", at(P, 10), 99.0, 9.9),
]


def core_ddl() -> str:
    statements = ["CREATE SCHEMA IF NOT EXISTS core;"]
    for table in CORE_TABLES.values():
        columns = ", ".join(
            f"{c.name} {c.type}{'' if c.nullable else ' NOT NULL'}" for c in table.columns
        )
        statements.append(f"CREATE TABLE core.{table.name} ({columns});")
    return "\n".join(statements)


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


def fill(con: duckdb.DuckDBPyConnection) -> None:
    """Insert the known rows into the marts and core.records."""
    for trip_id, vid, start, end, km, source, vmax, a, b, flags, idle, card in TRIPS:
        duration = (end - start).total_seconds()
        minutes = int(duration // 60)
        records = [(start + timedelta(minutes=i), point)
                   for i, point in enumerate(_route(a, b, minutes))
                   if not (trip_id == HOLE[0] and HOLE[1] < start + timedelta(minutes=i)
                           < HOLE[2])]
        steps = [(t2 - t1).total_seconds() for (t1, _), (t2, _) in
                 pairwise(records)]
        con.execute(
            "INSERT INTO marts.trips VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?)",
            [trip_id, vid, vid + 400, start, end, duration, a[0], a[1], b[0], b[1], km, source,
             km * 1.02, vmax, km / (duration / 3600), len(records), card, "ignition", flags,
             idle, max(steps), "open" in flags],
        )
        for i, (tmx, (lat, lon)) in enumerate(records):
            con.execute(
                "INSERT INTO core.records (uid, vid, tmx, received_at, source, lat, lon, "
                "speed_kmh, seq) VALUES (?, ?, ?, ?, 'records', ?, ?, ?, ?)",
                [vid + 400, vid, tmx, tmx + timedelta(seconds=3), lat, lon, 50.0, i],
            )
    con.executemany("INSERT INTO marts.vehicle_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    VEHICLE_DAILY)
    for message_id, sent, to_delivered, to_read, error, status in MESSAGES:
        def after(seconds: float | None, base: datetime = sent) -> datetime | None:
            return None if seconds is None else base + timedelta(seconds=seconds)
        con.execute(
            "INSERT INTO marts.message_latency VALUES (?, 501, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [message_id, sent, after(1.0), after(2.0), after(to_delivered), after(to_read),
             after(6.0) if error else None, to_delivered, to_read, status],
        )
    for vid, io, changed, old, new, previous_s in IO_CHANGES:
        previous = None if previous_s is None else changed - timedelta(seconds=previous_s)
        con.execute(
            "INSERT INTO marts.io_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'io_event')",
            [vid, vid + 400, io, changed, old, new, previous, previous_s],
        )
    for uid, kind, tmx, to_server, to_pipeline in EVENTS:
        rmx = tmx + timedelta(seconds=to_server)
        con.execute(
            "INSERT INTO marts.event_latency VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [uid, uid - 400, kind, tmx, rmx, rmx + timedelta(seconds=to_pipeline), to_server,
             to_pipeline],
        )
    for vid, start, end, lat, lon, idle, flags in STOPS:
        duration = ((end or at(D, 18)) - start).total_seconds()
        con.execute("INSERT INTO marts.stops VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [vid, start, end, duration, lat, lon, idle, end is None, flags])
    con.execute("INSERT INTO meta.builds VALUES (1, ?, ?)",
                [at(D, 18, 5), json.dumps(BUILD_SETTINGS)])


def fill_optional(con: duckdb.DuckDBPyConnection) -> None:
    """Rows of the marts that a warehouse may not have yet."""
    for vid, trip_id, card, start, seconds, vmax, km, limit in OVERSPEED:
        con.execute(
            "INSERT INTO marts.overspeed VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 38.7, -9.1)",
            [vid, vid + 400, trip_id, card, start, start + timedelta(seconds=seconds), seconds,
             vmax, vmax - 5, km, limit],
        )
    for vid, state, last_seen, silent_s in VEHICLE_STATUS:
        con.execute(
            "INSERT INTO marts.vehicle_status VALUES (?, ?, ?, ?, ?, 39.5, -8.9, 0, 0, false, "
            "NULL, ?, ?, NULL)",
            [vid, vid + 400, at(D, 18), last_seen, last_seen, state, silent_s],
        )
    for vid, place, kind, arrived, left, trip_in, trip_out in PLACE_VISITS:
        con.execute(
            "INSERT INTO marts.place_visits VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [vid, place, kind, arrived, left, (left - arrived).total_seconds(), trip_in,
             trip_out],
        )
    for vid, service, tmx, delivered, message, place in DELIVERIES:
        con.execute("INSERT INTO marts.deliveries VALUES (?, ?, ?, ?, ?, 38.8, -9.0, ?)",
                    [vid, service, tmx, delivered, message, place])
    con.execute("INSERT INTO marts.driver_daily VALUES ('0012345', ?, 1, 2, 42.7, 4500, 600, 1)",
                [D])
    con.execute("INSERT INTO marts.io_state VALUES (101, 501, 1, 0, ?, ?)",
                [at(D, 12, 30), at(P, 10)])


def build_warehouse(path: Path, *, with_rows: bool = True,
                    with_optional_marts: bool = True) -> Path:
    """Create a warehouse file at ``path`` with the marts (and rows unless told not to);
    ``with_optional_marts=False``: a warehouse built before the newer marts existed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(core_ddl())
        con.execute(MART_DDL)
        con.execute(META_DDL)
        if with_optional_marts:
            con.execute(OPTIONAL_MART_DDL)
        if with_rows:
            fill(con)
            if with_optional_marts:
                fill_optional(con)
    finally:
        con.close()
    return path

