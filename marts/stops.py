"""marts.stops: one row per stop of a vehicle: before its first trip, between trips, now."""

from __future__ import annotations

from marts.model import Mart, MartColumn, RowCheck, Scope, read_sql

MART = Mart(
    name="stops",
    grain="stop of a vehicle (before its first trip, between two trips, or the current one)",
    columns=(
        MartColumn("vid", "bigint", False),
        MartColumn("start_time", "timestamptz", False),
        MartColumn("end_time", "timestamptz", False),
        MartColumn("duration_s", "double", False, ge=0),
        MartColumn("lat", "double", ge=-90, le=90),
        MartColumn("lon", "double", ge=-180, le=180),
        MartColumn("idle_s", "double", description="ignition on at <= min_speed_kmh during "
                   "the stop; NULL: ignition unknown", ge=0),
        MartColumn("is_open", "boolean", False, "the stop the vehicle is in now"),
        MartColumn("flags", "varchar[]", False, "first (before its first trip), open"),
    ),
    sql=read_sql(__file__),
    sorted_by="start_time",
    scope=Scope(
        windows="trip_windows",
        delete="""
            delete from marts.stops as s using trip_windows as w
            where s.vid = w.vid and s.start_time >= w.window_start
        """,
        touched_since="select min(window_start) from trip_windows",
        touched_rows="start_time >= $since",
    ),
    reads=("core.records", "core.record_io", "core.io_events", "core.io_snapshots",
           "marts.trips", "marts.io_changes", "marts.io_state"),
    row_checks=(
        RowCheck("idle_within_stop", "idle_s is null or idle_s <= duration_s + 0.001"),
        RowCheck("open_flag_matches", "array_contains(flags, 'open') = is_open"),
    ),
)
