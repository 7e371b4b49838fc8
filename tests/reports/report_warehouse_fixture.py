"""A small, real warehouse.duckdb with hand-made rows whose figures are known.

Shared by the report tests (through ``conftest.py``) and the notebook test.

The ``marts`` tables have exactly the columns of DESIGN.md's "Marts" table; the ``core``
tables are created from ``schemas.core_tables`` (only ``core.records`` gets rows: the
route lines). The report's day is ``REPORT_DAY`` (UTC); a few rows on the day before check
that nothing leaks across days, and ``EMPTY_DAY`` has no activity at all.

Known figures of ``REPORT_DAY``: 3 vehicles active (101, 102, 103), 2 of them drove,
4 trips in vehicle_daily and 4 trips overlapping the day (T3 began the evening before),
98.2 km, 8700 s driving, 2100 s idle, top speed 110 km/h; 4 messages sent (3 delivered,
2 read, 1 error); I/O 1 changed 5 times (3 rises, 2 falls), I/O 2 twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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
    detection VARCHAR, flags VARCHAR[]
);
CREATE TABLE marts.stops (
    vid BIGINT, start_time TIMESTAMPTZ, end_time TIMESTAMPTZ, duration_s DOUBLE,
    lat DOUBLE, lon DOUBLE, idle_s DOUBLE
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
    uid BIGINT, kind VARCHAR, tmx TIMESTAMPTZ, rmx TIMESTAMPTZ, received_at TIMESTAMPTZ,
    device_to_server_s DOUBLE, server_to_pipeline_s DOUBLE
);
CREATE TABLE marts.vehicle_daily (
    vid BIGINT, day DATE, trips BIGINT, distance_km DOUBLE, driving_s DOUBLE, idle_s DOUBLE,
    max_speed_kmh DOUBLE, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ
);
"""


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=UTC)


D, P = REPORT_DAY, PREVIOUS_DAY

# trip_id, vid, start, end, distance_km, source, max speed, start (lat, lon), end, flags
TRIPS = [
    ("T1", 101, at(D, 7), at(D, 7, 45), 30.2, "odometer", 92.0, (38.70, -9.14), (38.80, -9.00), []),
    ("T2", 101, at(D, 12), at(D, 12, 30), 12.5, "gps", 60.0, (38.80, -9.00), (38.75, -9.10), []),
    ("T3", 102, at(P, 23, 30), at(D, 0, 20), 40.0, "odometer", 110.0, (41.15, -8.61),
     (40.64, -8.65), []),
    ("T4", 102, at(D, 16), at(D, 16, 50), 25.0, "odometer", 95.0, (40.64, -8.65),
     (40.20, -8.41), ["open"]),
    ("T5", 101, at(P, 10), at(P, 11), 50.0, "odometer", 100.0, (38.70, -9.14),
     (39.20, -8.70), []),
]

# vid, day, trips, distance_km, driving_s, idle_s, max_speed, first_seen, last_seen
VEHICLE_DAILY = [
    (101, D, 2, 42.7, 4500.0, 600.0, 92.0, at(D, 6, 55), at(D, 12, 40)),
    (102, D, 2, 55.5, 4200.0, 300.0, 110.0, at(D, 0, 0), at(D, 16, 50)),
    (103, D, 0, 0.0, 0.0, 1200.0, 0.0, at(D, 9), at(D, 10)),
    (101, P, 1, 50.0, 3600.0, 100.0, 100.0, at(P, 9, 50), at(P, 11, 5)),
    (102, P, 1, 20.0, 1800.0, 0.0, 110.0, at(P, 23, 25), at(P, 23, 59)),
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


def _route(start: tuple[float, float], end: tuple[float, float], steps: int = 6
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
    for trip_id, vid, start, end, km, source, vmax, a, b, flags in TRIPS:
        duration = (end - start).total_seconds()
        con.execute(
            "INSERT INTO marts.trips VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?)",
            [trip_id, vid, vid + 400, start, end, duration, a[0], a[1], b[0], b[1], km, source,
             km * 1.02, vmax, km / (duration / 3600), 7, "0012345", "ignition", flags],
        )
        for i, (lat, lon) in enumerate(_route(a, b)):
            tmx = start + (end - start) * i / 6
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
            "INSERT INTO marts.event_latency VALUES (?, ?, ?, ?, ?, ?, ?)",
            [uid, kind, tmx, rmx, rmx + timedelta(seconds=to_pipeline), to_server, to_pipeline],
        )
    con.execute(
        "INSERT INTO marts.stops VALUES (101, ?, ?, 15300, 38.80, -9.00, 600), "
        "(102, ?, ?, 56400, 40.64, -8.65, 300)",
        [at(D, 7, 45), at(D, 12), at(D, 0, 20), at(D, 16)],
    )


def build_warehouse(path: Path, *, with_rows: bool = True) -> Path:
    """Create a warehouse file at ``path`` with the marts (and rows unless told not to)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(core_ddl())
        con.execute(MART_DDL)
        if with_rows:
            fill(con)
    finally:
        con.close()
    return path

