"""Read local days out of the warehouse marts, as plain dataclasses.

Everything the daily report shows comes from here, so a test can compare the report with
the marts through one door. The connection is read-only (analysts and builds hold the
file at the same time); ``core.records`` gives the route lines when it is there.

Which rows belong to a window (one local day, or a range of them):
- a trip, stop, overspeed episode or place visit belongs to the day it starts, as in
  ``marts.vehicle_daily``; the timeline and the map also draw the trips still running at
  the window's start (cut at midnight), listed apart;
- per-vehicle figures and fleet totals: ``marts.vehicle_daily`` when the warehouse was
  built in the report's time zone (its days are then the report's days); otherwise they
  are computed from the trips and stops starting in the window and ``core.records``, so
  totals and lists always describe the same trips;
- messages: those sent during the window; I/O changes (real changes only: ``from_value``
  not NULL): those that happened in it; event latency and deliveries: device time in it;
- vehicle status: the latest build's, as of its ``as_of``.

Marts that a warehouse may not have yet (``OPTIONAL_MARTS``) load as ``None``, and the
report says so instead of failing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from lake import ducklake
from lake.errors import TrackitError
from lake.layout import DataLayout
from reports.days import DayWindow

ROUTE_POINTS_PER_TRIP = 300
ROUTE_POINTS_PER_DAY = 20_000
"""Caps on the points drawn on the route map: enough for a smooth line, and a page that
stays a few MB for a large fleet (each point is a few dozen bytes of SVG)."""

DEFAULT_SPARSE_GAP_S = 300.0
"""The hole threshold when the warehouse does not record its build settings."""

SIMULATED_CLOCK_S = 3 * 3600.0
"""Server and pipeline clocks further apart than this, for nearly every event, are not a
latency: the server's clock is a simulated one (the simulator's replays and speed-ups)."""
SIMULATED_CLOCK_SHARE = 0.9

OPTIONAL_MARTS = ("vehicle_status", "overspeed", "place_visits", "deliveries")

VehicleFilter = frozenset[int] | None


@dataclass(frozen=True)
class VehicleDay:
    """One vehicle's figures over the window (``idle_s`` None: ignition never known)."""

    vid: int
    trips: int
    distance_km: float
    driving_s: float
    idle_s: float | None
    max_speed_kmh: float | None
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True)
class Trip:
    """One trip of ``marts.trips`` that starts in the window or runs into it."""

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
    idle_s: float | None = None
    longest_gap_s: float | None = None
    n_records: int | None = None
    driver_card: str | None = None

    @property
    def is_open(self) -> bool:
        return self.end_time is None or "open" in self.flags


@dataclass(frozen=True)
class Stop:
    """One stop of ``marts.stops`` overlapping the window, where it happened."""

    vid: int
    start_time: datetime
    end_time: datetime | None
    duration_s: float
    lat: float
    lon: float
    idle_s: float | None
    is_open: bool


@dataclass(frozen=True)
class RoutePoint:
    """A drawn point of a trip's line; ``hole_before``: the step from the previous record
    is longer than the build's ``sparse_gap_s`` (a data hole, drawn dashed)."""

    lat: float
    lon: float
    hole_before: bool = False


@dataclass(frozen=True)
class MessageLatency:
    """Delivery and read latency of the messages sent to drivers during the window."""

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
    """The changes of one input (I/O number) during the window."""

    io: int
    changes: int
    vehicles: int
    rises: int
    falls: int
    median_seconds_in_previous_state: float | None


@dataclass(frozen=True)
class EventLatencyKind:
    """How late one kind of inbound event reached the server and the pipeline.

    ``simulated_clock``: server → pipeline is hours off for nearly every event, so the
    server's clock is a simulated one and that figure is not a latency."""

    kind: str
    events: int
    median_device_to_server_s: float | None
    median_server_to_pipeline_s: float | None
    simulated_clock: bool = False


@dataclass(frozen=True)
class Overspeed:
    """One episode of ``marts.overspeed``."""

    vid: int
    driver_card: str | None
    trip_id: str | None
    start_time: datetime
    end_time: datetime | None
    duration_s: float | None
    max_speed_kmh: float | None
    distance_km: float | None
    limit_kmh: float | None


@dataclass(frozen=True)
class DriverDay:
    """Trips per driver card (``None``: trips without a card) over the window."""

    driver_card: str | None
    vehicles: int
    trips: int
    distance_km: float
    driving_s: float
    idle_s: float | None
    overspeed_episodes: int | None


@dataclass(frozen=True)
class VehicleState:
    """One row of ``marts.vehicle_status``."""

    vid: int
    state: str
    last_seen: datetime | None
    silent_s: float | None
    lat: float | None
    lon: float | None
    driver_card: str | None


@dataclass(frozen=True)
class FleetStatus:
    """The latest build's vehicle status, as of its ``as_of`` (latest device time)."""

    as_of: datetime | None
    states: list[VehicleState]

    @property
    def silent(self) -> list[VehicleState]:
        return sorted((s for s in self.states if s.state == "silent"),
                      key=lambda s: (-(s.silent_s or 0), s.vid))

    def count(self, state: str) -> int:
        return sum(s.state == state for s in self.states)


@dataclass(frozen=True)
class PlaceVisit:
    """One visit of ``marts.place_visits`` that began in the window."""

    vid: int
    place: str
    kind: str | None
    arrived_at: datetime
    left_at: datetime | None
    dwell_s: float | None


@dataclass(frozen=True)
class Delivery:
    """One row of ``marts.deliveries`` in the window."""

    vid: int
    service_id: str
    tmx: datetime
    delivered: bool | None
    message: str | None
    place: str | None


@dataclass(frozen=True)
class DayData:
    """Everything the report shows for one window."""

    window: DayWindow
    vehicles: list[VehicleDay]
    trips: list[Trip]
    routes: dict[str, list[RoutePoint]]
    routes_from_records: bool
    messages: MessageLatency
    io_inputs: list[IoInput]
    event_latency: list[EventLatencyKind]
    settings: dict[str, str] = field(default_factory=dict)
    vehicles_from_mart: bool = True
    stops: list[Stop] = field(default_factory=list)
    overspeed: list[Overspeed] | None = None
    drivers: list[DriverDay] = field(default_factory=list)
    status: FleetStatus | None = None
    place_visits: list[PlaceVisit] | None = None
    deliveries: list[Delivery] | None = None
    vehicle_filter: tuple[int, ...] = ()

    @property
    def build_tz(self) -> str | None:
        return self.settings.get("timezone")

    @property
    def sparse_gap_s(self) -> float:
        return sparse_gap_of(self.settings)

    @property
    def day_trips(self) -> list[Trip]:
        """The trips that start in the window: the trips the totals count."""
        return [t for t in self.trips if t.start_time >= self.window.start]

    @property
    def earlier_trips(self) -> list[Trip]:
        """Trips that started before the window and ran into it."""
        return [t for t in self.trips if t.start_time < self.window.start]

    @property
    def is_empty(self) -> bool:
        """True when nothing at all happened during the window."""
        return not (self.vehicles or self.trips or self.messages.sent or self.io_inputs
                    or self.event_latency or self.overspeed or self.place_visits
                    or self.deliveries)


def open_warehouse(data_dir: Path | DataLayout) -> duckdb.DuckDBPyConnection:
    """The warehouse of ``data_dir`` read-only (its latest snapshot), times in UTC;
    ``TrackitError`` when it is not usable."""
    try:
        return ducklake.open_warehouse(data_dir, read_only=True)
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TrackitError(f"cannot open the warehouse of {data_dir}: {first_line}") from exc


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


def sparse_gap_of(settings: dict[str, str]) -> float:
    """The build's ``sparse_gap_s``: a longer step between two records is a data hole."""
    try:
        return float(settings["sparse_gap_s"])
    except (KeyError, ValueError):
        return DEFAULT_SPARSE_GAP_S


def vehicle_clause(vehicles: VehicleFilter, column: str = "vid") -> str:
    """`` AND <column> IN (…)`` for a vehicle selection ('' for the whole fleet)."""
    if vehicles is None:
        return ""
    ids = ", ".join(str(int(v)) for v in sorted(vehicles)) or "NULL"
    return f" AND {column} IN ({ids})"


def load_settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """``meta.build_settings`` as a dict ({} when the warehouse does not record them)."""
    if not _has_table(con, "meta", "build_settings"):
        return {}
    rows = con.execute("SELECT key, value FROM meta.build_settings ORDER BY key").fetchall()
    return {str(k): "" if v is None else str(v) for k, v in rows}


def load_day(con: duckdb.DuckDBPyConnection, window: DayWindow,
             vehicles: VehicleFilter = None) -> DayData:
    """Read everything the report shows about ``window`` (for ``vehicles``, or all)."""
    settings = load_settings(con)
    has_records = _has_table(con, "core", "records")
    trips = load_trips(con, window, vehicles)
    from_mart = settings.get("timezone") == window.tz
    sparse_gap_s = sparse_gap_of(settings)
    per_trip = max(20, min(ROUTE_POINTS_PER_TRIP, ROUTE_POINTS_PER_DAY // max(len(trips), 1)))
    routes = (load_routes(con, window, per_trip, vehicles, sparse_gap_s)
              if has_records and trips else {})
    overspeed = load_overspeed(con, window, vehicles)
    return DayData(
        window=window,
        vehicles=(load_vehicle_days(con, window, vehicles) if from_mart
                  else vehicle_days_from_trips(con, window, vehicles, has_records)),
        trips=trips,
        routes=routes,
        routes_from_records=bool(routes),
        messages=load_message_latency(con, window, vehicles),
        io_inputs=load_io_inputs(con, window, vehicles),
        event_latency=load_event_latency(con, window, vehicles),
        settings=settings,
        vehicles_from_mart=from_mart,
        stops=load_stops(con, window, vehicles),
        overspeed=overspeed,
        drivers=drivers_of([t for t in trips if t.start_time >= window.start], overspeed),
        status=load_status(con, vehicles),
        place_visits=load_place_visits(con, window, vehicles),
        deliveries=load_deliveries(con, window, vehicles),
        vehicle_filter=tuple(sorted(vehicles or ())),
    )


def load_vehicle_days(con: duckdb.DuckDBPyConnection, window: DayWindow,
                      vehicles: VehicleFilter = None) -> list[VehicleDay]:
    """Per-vehicle figures from ``marts.vehicle_daily`` (its days are the window's)."""
    rows = _query(con,
        f"""
        SELECT vid, coalesce(sum(trips), 0), coalesce(sum(distance_km), 0),
               coalesce(sum(driving_s), 0), sum(idle_s), max(max_speed_kmh),
               min(first_seen), max(last_seen)
        FROM marts.vehicle_daily
        WHERE day BETWEEN $first AND $last {vehicle_clause(vehicles)}
        GROUP BY vid
        ORDER BY 3 DESC, vid
        """,
        {"first": window.day, "last": window.final_day},
    ).fetchall()
    return [_vehicle_day(row) for row in rows]


def vehicle_days_from_trips(con: duckdb.DuckDBPyConnection, window: DayWindow,
                            vehicles: VehicleFilter = None,
                            has_records: bool = True) -> list[VehicleDay]:
    """Per-vehicle figures of a window that is not made of the build's days: summed from
    the trips and stops starting in it (as ``marts.vehicle_daily`` does for its days),
    seen-times and top speed from ``core.records`` when there."""
    where = f"start_time >= $start AND start_time < $end {vehicle_clause(vehicles)}"
    records = (f"""SELECT vid, max(speed_kmh) AS vmax, min(tmx) AS f, max(tmx) AS l
                   FROM core.records WHERE tmx >= $start AND tmx < $end
                   {vehicle_clause(vehicles)} GROUP BY vid"""
               if has_records else
               "SELECT NULL::BIGINT AS vid, NULL::DOUBLE AS vmax, NULL::TIMESTAMPTZ AS f, "
               "NULL::TIMESTAMPTZ AS l WHERE false")
    rows = _query(con,
        f"""
        WITH t AS (
            SELECT vid, count(*) AS trips, sum(distance_km) AS km, sum(duration_s) AS drive,
                   sum(idle_s) AS idle, max(max_speed_kmh) AS vmax, min(start_time) AS f,
                   max(coalesce(end_time, start_time)) AS l
            FROM marts.trips WHERE {where} GROUP BY vid
        ), s AS (
            SELECT vid, sum(idle_s) AS idle, min(start_time) AS f,
                   max(coalesce(end_time, start_time)) AS l
            FROM marts.stops WHERE {where} GROUP BY vid
        ), r AS ({records})
        SELECT vid, coalesce(t.trips, 0), coalesce(t.km, 0), coalesce(t.drive, 0),
               CASE WHEN t.idle IS NULL AND s.idle IS NULL THEN NULL
                    ELSE coalesce(t.idle, 0) + coalesce(s.idle, 0) END,
               greatest(t.vmax, r.vmax), least(t.f, s.f, r.f), greatest(t.l, s.l, r.l)
        FROM t FULL JOIN s USING (vid) FULL JOIN r USING (vid)
        ORDER BY 3 DESC, vid
        """,
        {"start": window.start, "end": window.end},
    ).fetchall()
    return [_vehicle_day(row) for row in rows]


def _vehicle_day(row: tuple) -> VehicleDay:
    vid, trips, km, drive, idle, vmax, first, last = row
    return VehicleDay(int(vid), int(trips), float(km), float(drive),
                      None if idle is None else float(idle),
                      None if vmax is None else float(vmax), first, last)


_DAY_TRIPS = """
    SELECT trip_id, vid, start_time, end_time
    FROM marts.trips
    WHERE start_time < $end AND coalesce(end_time, start_time) >= $start {vehicles}
"""


def load_trips(con: duckdb.DuckDBPyConnection, window: DayWindow,
               vehicles: VehicleFilter = None) -> list[Trip]:
    rows = _query(con,
        f"""
        SELECT CAST(trip_id AS VARCHAR), vid, start_time, end_time,
               CAST(duration_s AS DOUBLE), CAST(distance_km AS DOUBLE), distance_source,
               CAST(max_speed_kmh AS DOUBLE), start_lat, start_lon, end_lat, end_lon,
               detection, coalesce(CAST(flags AS VARCHAR), ''),
               CAST(idle_s AS DOUBLE), CAST(longest_gap_s AS DOUBLE), n_records,
               CAST(driver_card AS VARCHAR)
        FROM marts.trips
        WHERE start_time < $end AND coalesce(end_time, start_time) >= $start
              {vehicle_clause(vehicles)}
        ORDER BY vid, start_time
        """,
        {"start": window.start, "end": window.end},
    ).fetchall()
    return [Trip(str(r[0]), int(r[1]), *r[2:16], None if r[16] is None else int(r[16]), r[17])
            for r in rows]


def load_stops(con: duckdb.DuckDBPyConnection, window: DayWindow,
               vehicles: VehicleFilter = None) -> list[Stop]:
    """Stops overlapping the window that have a position (the map's pins)."""
    rows = _query(con,
        f"""
        SELECT vid, start_time, end_time,
               coalesce(CAST(duration_s AS DOUBLE),
                        epoch(coalesce(end_time, start_time)) - epoch(start_time)),
               lat, lon, CAST(idle_s AS DOUBLE), coalesce(is_open, end_time IS NULL)
        FROM marts.stops
        WHERE start_time < $end AND coalesce(end_time, start_time) >= $start
              AND lat IS NOT NULL AND lon IS NOT NULL {vehicle_clause(vehicles)}
        ORDER BY vid, start_time
        """,
        {"start": window.start, "end": window.end},
    ).fetchall()
    return [Stop(int(v), s, e, float(d or 0), float(la), float(lo),
                 None if i is None else float(i), bool(o))
            for v, s, e, d, la, lo, i, o in rows]


def load_routes(
    con: duckdb.DuckDBPyConnection, window: DayWindow,
    points_per_trip: int = ROUTE_POINTS_PER_TRIP, vehicles: VehicleFilter = None,
    hole_s: float = DEFAULT_SPARSE_GAP_S,
) -> dict[str, list[RoutePoint]]:
    """Lat/lon lines of the window's trips from ``core.records``, thinned for drawing.

    Both ends of every step longer than ``hole_s`` are kept, so that the hole is one
    drawn segment (marked ``hole_before`` on its far end)."""
    day_trips = _DAY_TRIPS.format(vehicles=vehicle_clause(vehicles))
    rows = _query(con,
        f"""
        WITH day_trips AS ({day_trips}),
        bounded AS (
            SELECT trip_id, vid, start_time, coalesce(end_time, $end) AS end_time
            FROM day_trips
        ),
        points AS (
            SELECT b.trip_id, r.tmx, r.lat, r.lon,
                   row_number() OVER w AS n,
                   count(*) OVER (PARTITION BY b.trip_id) AS total,
                   epoch(r.tmx) - epoch(lag(r.tmx) OVER w) AS step_before,
                   epoch(lead(r.tmx) OVER w) - epoch(r.tmx) AS step_after
            FROM bounded AS b
            JOIN core.records AS r
              ON r.vid = b.vid AND r.tmx BETWEEN b.start_time AND b.end_time
            WHERE r.lat IS NOT NULL AND r.lon IS NOT NULL
              AND r.tmx >= (SELECT min(start_time) FROM bounded)
              AND r.tmx <= (SELECT max(end_time) FROM bounded)
            WINDOW w AS (PARTITION BY b.trip_id ORDER BY r.tmx)
        ),
        final AS (
            SELECT trip_id, tmx, lat, lon, coalesce(step_before > $hole_s, false) AS hole
            FROM points
            WHERE (n - 1) % greatest(1, CAST(ceil(total / $per_trip) AS BIGINT)) = 0
               OR n = total OR step_before > $hole_s OR step_after > $hole_s
        )
        SELECT CAST(trip_id AS VARCHAR), lat, lon, hole FROM final ORDER BY trip_id, tmx
        """,
        {"start": window.start, "end": window.end, "per_trip": points_per_trip,
         "hole_s": hole_s},
    ).fetchall()
    routes: dict[str, list[RoutePoint]] = {}
    for trip_id, lat, lon, hole in rows:
        routes.setdefault(trip_id, []).append(RoutePoint(float(lat), float(lon), bool(hole)))
    return routes


def _uid_clause(con: duckdb.DuckDBPyConnection, vehicles: VehicleFilter) -> str:
    """The units (uids) of the selected vehicles, for marts keyed by uid only."""
    if vehicles is None:
        return ""
    sources = ["SELECT uid FROM marts.trips WHERE true" + vehicle_clause(vehicles)]
    if _has_table(con, "core", "records"):
        sources.append("SELECT uid FROM core.records WHERE true" + vehicle_clause(vehicles))
    uids = [int(u) for (u,) in con.execute(
        f"SELECT DISTINCT uid FROM ({' UNION '.join(sources)}) WHERE uid IS NOT NULL"
    ).fetchall()]
    return vehicle_clause(frozenset(uids), "uid")


def load_message_latency(con: duckdb.DuckDBPyConnection, window: DayWindow,
                         vehicles: VehicleFilter = None) -> MessageLatency:
    where = ("WHERE sent_at >= $start AND sent_at < $end"
             + _uid_clause(con, vehicles))
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


def load_io_inputs(con: duckdb.DuckDBPyConnection, window: DayWindow,
                   vehicles: VehicleFilter = None) -> list[IoInput]:
    """Changes per input; a row without ``from_value`` (an input's first value ever seen)
    is not a change and is not counted."""
    rows = _query(con,
        f"""
        SELECT io,
               count(*),
               count(DISTINCT vid),
               count(*) FILTER (WHERE to_value > from_value),
               count(*) FILTER (WHERE to_value < from_value),
               quantile_cont(seconds_in_previous_state, 0.5)
        FROM marts.io_changes
        WHERE changed_at >= $start AND changed_at < $end AND from_value IS NOT NULL
              {vehicle_clause(vehicles)}
        GROUP BY io ORDER BY io
        """,
        {"start": window.start, "end": window.end},
    ).fetchall()
    return [
        IoInput(int(io), int(n), int(v), int(up), int(down), None if m is None else float(m))
        for io, n, v, up, down, m in rows
    ]


def load_event_latency(
    con: duckdb.DuckDBPyConnection, window: DayWindow, vehicles: VehicleFilter = None
) -> list[EventLatencyKind]:
    where = ("WHERE tmx >= $start AND tmx < $end"
             + (vehicle_clause(vehicles) if _has_column(con, "marts", "event_latency", "vid")
                else _uid_clause(con, vehicles)))
    rows = _query(con,
        f"""
        SELECT coalesce(kind, 'unknown') AS kind,
               count(*),
               quantile_cont(device_to_server_s, 0.5),
               quantile_cont(server_to_pipeline_s, 0.5),
               count(server_to_pipeline_s),
               count(*) FILTER (WHERE server_to_pipeline_s > $far),
               count(*) FILTER (WHERE server_to_pipeline_s < -$far)
        FROM marts.event_latency
        {where}
        GROUP BY kind ORDER BY kind
        """,
        {"start": window.start, "end": window.end, "far": SIMULATED_CLOCK_S},
    ).fetchall()
    return [
        EventLatencyKind(str(k), int(n), None if a is None else float(a),
                         None if b is None else float(b),
                         simulated_clock=bool(known) and b is not None
                         and abs(b) > SIMULATED_CLOCK_S
                         and max(late, early) >= SIMULATED_CLOCK_SHARE * known)
        for k, n, a, b, known, late, early in rows
    ]


def _has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? AND column_name = ?",
        [schema, table, column],
    ).fetchone()
    return bool(row and row[0])


def load_overspeed(con: duckdb.DuckDBPyConnection, window: DayWindow,
                   vehicles: VehicleFilter = None) -> list[Overspeed] | None:
    """Overspeed episodes starting in the window; None without ``marts.overspeed``."""
    if not _has_table(con, "marts", "overspeed"):
        return None
    rows = _query(con,
        f"""
        SELECT vid, CAST(driver_card AS VARCHAR), CAST(trip_id AS VARCHAR), start_time,
               end_time, CAST(duration_s AS DOUBLE), CAST(max_speed_kmh AS DOUBLE),
               CAST(distance_km AS DOUBLE), CAST(limit_kmh AS DOUBLE)
        FROM marts.overspeed
        WHERE start_time >= $start AND start_time < $end {vehicle_clause(vehicles)}
        ORDER BY start_time, vid
        """,
        {"start": window.start, "end": window.end},
    ).fetchall()
    return [Overspeed(int(r[0]), *r[1:]) for r in rows]


def drivers_of(trips: list[Trip], overspeed: list[Overspeed] | None) -> list[DriverDay]:
    """Trips per driver card, from the trips the totals count (any time zone), with the
    overspeed episodes of each card."""
    by_card: dict[str | None, list[Trip]] = {}
    for trip in trips:
        by_card.setdefault(trip.driver_card or None, []).append(trip)
    episodes: dict[str | None, int] = {}
    for episode in overspeed or []:
        card = episode.driver_card or None
        episodes[card] = episodes.get(card, 0) + 1
        by_card.setdefault(card, [])
    drivers = []
    for card, card_trips in by_card.items():
        idles = [t.idle_s for t in card_trips if t.idle_s is not None]
        drivers.append(DriverDay(
            card, len({t.vid for t in card_trips}), len(card_trips),
            sum(t.distance_km or 0.0 for t in card_trips),
            sum(t.duration_s or 0.0 for t in card_trips),
            sum(idles) if idles else None,
            None if overspeed is None else episodes.get(card, 0),
        ))
    return sorted(drivers, key=lambda d: (d.driver_card is None, -d.distance_km,
                                          d.driver_card or ""))


def load_status(con: duckdb.DuckDBPyConnection,
                vehicles: VehicleFilter = None) -> FleetStatus | None:
    """The latest build's ``marts.vehicle_status``; None without it."""
    if not _has_table(con, "marts", "vehicle_status"):
        return None
    rows = _query(con,
        f"""
        SELECT as_of, vid, coalesce(state, 'unknown'), last_seen, CAST(silent_s AS DOUBLE),
               lat, lon, CAST(driver_card AS VARCHAR)
        FROM marts.vehicle_status WHERE true {vehicle_clause(vehicles)}
        ORDER BY vid
        """,
    ).fetchall()
    as_of = max((r[0] for r in rows if r[0] is not None), default=None)
    return FleetStatus(as_of, [VehicleState(int(r[1]), str(r[2]), *r[3:]) for r in rows])


def load_place_visits(con: duckdb.DuckDBPyConnection, window: DayWindow,
                      vehicles: VehicleFilter = None) -> list[PlaceVisit] | None:
    """Visits that began in the window; None without ``marts.place_visits``."""
    if not _has_table(con, "marts", "place_visits"):
        return None
    kind = "CAST(kind AS VARCHAR)" if _has_column(con, "marts", "place_visits", "kind") \
        else "NULL"
    rows = _query(con,
        f"""
        SELECT vid, CAST(place AS VARCHAR), {kind}, arrived_at, left_at,
               CAST(dwell_s AS DOUBLE)
        FROM marts.place_visits
        WHERE arrived_at >= $start AND arrived_at < $end {vehicle_clause(vehicles)}
        ORDER BY arrived_at, vid
        """,
        {"start": window.start, "end": window.end},
    ).fetchall()
    return [PlaceVisit(int(r[0]), str(r[1]), *r[2:]) for r in rows]


def load_deliveries(con: duckdb.DuckDBPyConnection, window: DayWindow,
                    vehicles: VehicleFilter = None) -> list[Delivery] | None:
    """Deliveries whose device time is in the window; None without ``marts.deliveries``."""
    if not _has_table(con, "marts", "deliveries"):
        return None
    rows = _query(con,
        f"""
        SELECT vid, CAST(service_id AS VARCHAR), tmx, delivered, CAST(message AS VARCHAR),
               CAST(place AS VARCHAR)
        FROM marts.deliveries
        WHERE tmx >= $start AND tmx < $end {vehicle_clause(vehicles)}
        ORDER BY tmx, vid
        """,
        {"start": window.start, "end": window.end},
    ).fetchall()
    return [Delivery(int(r[0]), str(r[1]), r[2], None if r[3] is None else bool(r[3]),
                     r[4], r[5]) for r in rows]
