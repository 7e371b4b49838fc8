"""marts.stops: one row per stop between two trips of a vehicle."""

from __future__ import annotations

from marts.model import Mart, MartColumn, RowCheck, Scope, read_sql

MART = Mart(
    name="stops",
    grain="stop between two trips of a vehicle",
    columns=(
        MartColumn("vid", "bigint", False),
        MartColumn("start_time", "timestamptz", False),
        MartColumn("end_time", "timestamptz", False),
        MartColumn("duration_s", "double", False, ge=0),
        MartColumn("lat", "double", ge=-90, le=90),
        MartColumn("lon", "double", ge=-180, le=180),
        MartColumn("idle_s", "double", False, "engine running during the stop", ge=0),
    ),
    sql=read_sql(__file__),
    scope=Scope(
        windows="trip_windows",
        delete="""
            delete from marts.stops as s using trip_windows as w
            where s.vid = w.vid and s.start_time >= w.window_start
        """,
        touched_since="select min(window_start) from trip_windows",
        touched_rows="start_time >= $since",
    ),
    reads=("core.records", "marts.trips", "marts.io_changes"),
    row_checks=(RowCheck("idle_within_stop", "idle_s <= duration_s + 0.001"),),
)
