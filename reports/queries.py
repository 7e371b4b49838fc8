"""Read one local day out of the warehouse marts, as plain dataclasses.

Everything the daily report shows comes from here, so a test can compare the report with
the marts through one door. The connection is read-only (analysts and builds hold the
file at the same time) and only the columns of DESIGN.md's "Marts" table are used, plus
``core.records`` for the route lines when it is there.

Which rows belong to a day:
- per-vehicle figures and fleet totals: ``marts.vehicle_daily`` rows of that ``day``
  (the mart already splits activity into local days);
- trips (timeline, map, trip list): trips that overlap the day's UTC window, so a trip
  that began the evening before is shown too;
- messages: those sent during the day; I/O changes: those that happened during the day;
  event latency: events whose device time falls in the day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from lake.errors import TrackitError
from reports.days import DayWindow

ROUTE_POINTS_PER_TRIP = 300
ROUTE_POINTS_PER_DAY = 20_000
"""Caps on the points drawn on the route map: enough for a smooth line, and a page that
stays a few MB for a large fleet (each point is a few dozen bytes of SVG)."""


@dataclass(frozen=True)
class VehicleDay:
    """One row of ``marts.vehicle_daily``."""

    vid: int
    trips: int
    distance_km: float
    driving_s: float
    idle_s: float
    max_speed_kmh: float | None
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True)
class Trip:
    """One trip of ``marts.trips`` that overlaps the day."""

    trip_id: str
    vid: int
    start_time: datetime
    end_time: datetime | None
    duration_s: float | None
    distance_km: float | None
    distance_source: str | None
    max_speed_kmh: float | None
    start_lat: float | None
    start_lon: float | None
    end_lat: float | None
    end_lon: float | None
    detection: str | None
    flags: str

    @property
    def is_open(self) -> bool:
        return self.end_time is None or "open" in self.flags


@dataclass(frozen=True)
class MessageLatency:
    """Delivery and read latency of the messages sent to drivers during the day."""

    sent: int
    delivered: int
    read: int
    errors: int
    median_to_delivered_s: float | None
    p90_to_delivered_s: float | None
    median_to_read_s: float | None
    p90_to_read_s: float | None
    seconds_to_delivered: list[float] = field(default_factory=list)
    seconds_to_read: list[float] = field(default_factory=list)
    final_status_counts: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class IoInput:
    """The changes of one input (I/O number) during the day."""

    io: int
    changes: int
    vehicles: int
    rises: int
    falls: int
    median_seconds_in_previous_state: float | None


@dataclass(frozen=True)
class EventLatencyKind:
    """How late one kind of inbound event reached the server and the pipeline."""

    kind: str
    events: int
    median_device_to_server_s: float | None
    median_server_to_pipeline_s: float | None


@dataclass(frozen=True)
class DayData:
    """Everything the daily report shows for one day."""

    window: DayWindow
    vehicles: list[VehicleDay]
    trips: list[Trip]
    routes: dict[str, list[tuple[float, float]]]
    routes_from_records: bool
    messages: MessageLatency
    io_inputs: list[IoInput]
    event_latency: list[EventLatencyKind]

    @property
    def is_empty(self) -> bool:
        """True when nothing at all happened during the day."""
        return not (self.vehicles or self.trips or self.messages.sent or self.io_inputs
                    or self.event_latency)


def open_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the published warehouse read-only; ``TrackitError`` when it is not usable."""
    if not path.is_file():
        raise TrackitError(f"no warehouse at {path} (run `trackit build` first)")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TrackitError(f"cannot open warehouse {path}: {first_line}") from exc
    # Timestamps come back as UTC datetimes whatever the machine's zone is.
    con.execute("SET TimeZone = 'UTC'")
    return con


def _query(con: duckdb.DuckDBPyConnection, sql: str,
           params: object = None) -> duckdb.DuckDBPyConnection:
    """Run one of the report's queries; ``TrackitError`` naming the marts it needs that the
    warehouse lacks (a warehouse built before they were declared, or not a warehouse)."""
    try:
        return con.execute(sql, params)
    except duckdb.CatalogException:
        named = dict.fromkeys(re.findall(r"\bmarts\.([a-z_]+)", sql, flags=re.IGNORECASE))
        missing = [name for name in named if not _has_table(con, "marts", name)]
        if not missing:
            raise
        path = con.execute("select path from duckdb_databases() "
                           "where database_name = current_database()").fetchone()[0]
        raise TrackitError(
            f"warehouse {path} lacks marts {', '.join(missing)} (run `trackit build`)"
        ) from None


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def load_day(con: duckdb.DuckDBPyConnection, window: DayWindow) -> DayData:
    """Read everything the report shows about ``window``'s day."""
    trips = load_trips(con, window)
    has_records = _has_table(con, "core", "records")
    per_trip = max(20, min(ROUTE_POINTS_PER_TRIP, ROUTE_POINTS_PER_DAY // max(len(trips), 1)))
    routes = load_routes(con, window, per_trip) if has_records and trips else {}
    return DayData(
        window=window,
        vehicles=load_vehicle_days(con, window),
        trips=trips,
        routes=routes,
        routes_from_records=bool(routes),
        messages=load_message_latency(con, window),
        io_inputs=load_io_inputs(con, window),
        event_latency=load_event_latency(con, window),
    )


def load_vehicle_days(con: duckdb.DuckDBPyConnection, window: DayWindow) -> list[VehicleDay]:
    rows = _query(con,
        """
        SELECT vid, coalesce(trips, 0), coalesce(distance_km, 0), coalesce(driving_s, 0),
               coalesce(idle_s, 0), max_speed_kmh, first_seen, last_seen
        FROM marts.vehicle_daily
        WHERE day = ?
        ORDER BY distance_km DESC NULLS LAST, vid
        """,
        [window.day],
    ).fetchall()
    return [
        VehicleDay(int(vid), int(trips), float(km), float(drive), float(idle),
                   None if vmax is None else float(vmax), first, last)
        for vid, trips, km, drive, idle, vmax, first, last in rows
    ]


_DAY_TRIPS = """
    SELECT trip_id, vid, start_time, end_time
    FROM marts.trips
    WHERE start_time < $end AND coalesce(end_time, start_time) >= $start
"""


def load_trips(con: duckdb.DuckDBPyConnection, window: DayWindow) -> list[Trip]:
    rows = _query(con,
        """
        SELECT CAST(trip_id AS VARCHAR), vid, start_time, end_time,
               CAST(duration_s AS DOUBLE), CAST(distance_km AS DOUBLE), distance_source,
               CAST(max_speed_kmh AS DOUBLE), start_lat, start_lon, end_lat, end_lon,
               detection, coalesce(CAST(flags AS VARCHAR), '')
        FROM marts.trips
        WHERE start_time < $end AND coalesce(end_time, start_time) >= $start
        ORDER BY vid, start_time
        """,
        {"start": window.start, "end": window.end},
    ).fetchall()
    return [Trip(str(r[0]), int(r[1]), *r[2:]) for r in rows]


def load_routes(
    con: duckdb.DuckDBPyConnection, window: DayWindow, points_per_trip: int = ROUTE_POINTS_PER_TRIP
) -> dict[str, list[tuple[float, float]]]:
    """Lat/lon lines of the day's trips from ``core.records``, thinned for drawing."""
    rows = _query(con,
        f"""
        WITH day_trips AS ({_DAY_TRIPS}),
        bounded AS (
            SELECT trip_id, vid, start_time, coalesce(end_time, $end) AS end_time
            FROM day_trips
        ),
        points AS (
            SELECT b.trip_id, r.tmx, r.lat, r.lon,
                   row_number() OVER (PARTITION BY b.trip_id ORDER BY r.tmx) AS n,
                   count(*) OVER (PARTITION BY b.trip_id) AS total
            FROM bounded AS b
            JOIN core.records AS r
              ON r.vid = b.vid AND r.tmx BETWEEN b.start_time AND b.end_time
            WHERE r.lat IS NOT NULL AND r.lon IS NOT NULL
              AND r.tmx >= (SELECT min(start_time) FROM bounded)
              AND r.tmx <= (SELECT max(end_time) FROM bounded)
        ),
        final AS (
            SELECT trip_id, tmx, lat, lon
            FROM points
            WHERE (n - 1) % greatest(1, CAST(ceil(total / $per_trip) AS BIGINT)) = 0
               OR n = total
        )
        SELECT CAST(trip_id AS VARCHAR), lat, lon FROM final ORDER BY trip_id, tmx
        """,
        {"start": window.start, "end": window.end, "per_trip": points_per_trip},
    ).fetchall()
    routes: dict[str, list[tuple[float, float]]] = {}
    for trip_id, lat, lon in rows:
        routes.setdefault(trip_id, []).append((float(lat), float(lon)))
    return routes


def load_message_latency(con: duckdb.DuckDBPyConnection, window: DayWindow) -> MessageLatency:
    where = "WHERE sent_at >= $start AND sent_at < $end"
    params = {"start": window.start, "end": window.end}
    stats = _query(con,
        f"""
        SELECT count(*),
               count(delivered_at),
               count(read_at),
               count(error_at),
               quantile_cont(seconds_to_delivered, 0.5),
               quantile_cont(seconds_to_delivered, 0.9),
               quantile_cont(seconds_to_read, 0.5),
               quantile_cont(seconds_to_read, 0.9)
        FROM marts.message_latency {where}
        """,
        params,
    ).fetchone()
    assert stats is not None  # an aggregate always returns one row
    to_delivered, to_read = _query(con,
        f"""
        SELECT list(CAST(seconds_to_delivered AS DOUBLE) ORDER BY seconds_to_delivered)
                   FILTER (WHERE seconds_to_delivered IS NOT NULL),
               list(CAST(seconds_to_read AS DOUBLE) ORDER BY seconds_to_read)
                   FILTER (WHERE seconds_to_read IS NOT NULL)
        FROM marts.message_latency {where}
        """,
        params,
    ).fetchone() or (None, None)
    statuses = _query(con,
        f"""
        SELECT coalesce(final_status, 'unknown') AS status, count(*)
        FROM marts.message_latency {where}
        GROUP BY status ORDER BY count(*) DESC, status
        """,
        params,
    ).fetchall()
    sent, delivered, read, errors, *quantiles = stats
    return MessageLatency(
        int(sent), int(delivered), int(read), int(errors),
        *(None if q is None else float(q) for q in quantiles),
        seconds_to_delivered=list(to_delivered or []),
        seconds_to_read=list(to_read or []),
        final_status_counts=[(str(s), int(n)) for s, n in statuses],
    )


def load_io_inputs(con: duckdb.DuckDBPyConnection, window: DayWindow) -> list[IoInput]:
    rows = _query(con,
        """
        SELECT io,
               count(*),
               count(DISTINCT vid),
               count(*) FILTER (WHERE to_value > from_value),
               count(*) FILTER (WHERE to_value < from_value),
               quantile_cont(seconds_in_previous_state, 0.5)
        FROM marts.io_changes
        WHERE changed_at >= $start AND changed_at < $end
        GROUP BY io ORDER BY io
        """,
        {"start": window.start, "end": window.end},
    ).fetchall()
    return [
        IoInput(int(io), int(n), int(v), int(up), int(down), None if m is None else float(m))
        for io, n, v, up, down, m in rows
    ]


def load_event_latency(
    con: duckdb.DuckDBPyConnection, window: DayWindow
) -> list[EventLatencyKind]:
    rows = _query(con,
        """
        SELECT coalesce(kind, 'unknown') AS kind,
               count(*),
               quantile_cont(device_to_server_s, 0.5),
               quantile_cont(server_to_pipeline_s, 0.5)
        FROM marts.event_latency
        WHERE tmx >= $start AND tmx < $end
        GROUP BY kind ORDER BY kind
        """,
        {"start": window.start, "end": window.end},
    ).fetchall()
    return [
        EventLatencyKind(str(k), int(n), None if a is None else float(a),
                         None if b is None else float(b))
        for k, n, a, b in rows
    ]
