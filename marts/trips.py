"""marts.trips: one row per trip of a vehicle (the trip rules are in ``trips.sql``)."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Reconciliation, RowCheck, Scope, read_sql

LATITUDE = {"ge": -90, "le": 90}
LONGITUDE = {"ge": -180, "le": 180}

MART = Mart(
    name="trips",
    grain="trip of a vehicle",
    columns=(
        MartColumn("trip_id", "varchar", False, "md5 of vid and start time: stable across "
                   "rebuilds", unique=True, length=32),
        MartColumn("vid", "bigint", False),
        MartColumn("uid", "bigint"),
        MartColumn("start_time", "timestamptz", False),
        MartColumn("end_time", "timestamptz", False),
        MartColumn("duration_s", "double", False, ge=0),
        MartColumn("start_lat", "double", **LATITUDE),
        MartColumn("start_lon", "double", **LONGITUDE),
        MartColumn("end_lat", "double", **LATITUDE),
        MartColumn("end_lon", "double", **LONGITUDE),
        MartColumn("distance_km", "double", False, ge=0),
        MartColumn("distance_source", "varchar", False, isin=("odometer", "gps")),
        MartColumn("gps_distance_km", "double", False, ge=0),
        MartColumn("max_speed_kmh", "double", ge=0),
        MartColumn("avg_speed_kmh", "double", ge=0),
        MartColumn("n_records", "bigint", False, ge=2),
        MartColumn("longest_gap_s", "double", False,
                   "the longest step between two records of the trip", ge=0),
        MartColumn("idle_s", "double", description="ignition on at <= min_speed_kmh; NULL: "
                   "ignition unknown", ge=0),
        MartColumn("driver_card", "varchar"),
        MartColumn("detection", "varchar", False, isin=("ignition", "motion")),
        MartColumn("flags", "varchar[]", False, "gap_inferred, odometer_reset, open, "
                   "signal_lost, sparse"),
        MartColumn("is_open", "boolean", False),
        MartColumn("end_reason", "varchar", False, isin=("arrival", "gap", "open", "signal_lost")),
        MartColumn("start_odometer_m", "bigint"),
        MartColumn("end_odometer_m", "bigint"),
    ),
    sql=read_sql(__file__),
    sorted_by="start_time",
    scope=Scope(
        windows="trip_windows",
        delete="""
            delete from marts.trips as t using trip_windows as w
            where t.vid = w.vid and t.start_time >= w.window_start
        """,
        touched_since="select min(window_start) from trip_windows",
        touched_rows="start_time >= $since",
    ),
    reads=("core.records", "core.record_io", "core.io_events", "core.io_snapshots",
           "marts.io_changes", "marts.io_state"),
    row_checks=(
        RowCheck("ends_after_start", "end_time >= start_time"),
        RowCheck("open_flag_matches", "array_contains(flags, 'open') = is_open"),
        RowCheck("never_open_and_signal_lost",
                 "not (is_open and array_contains(flags, 'signal_lost'))"),
        RowCheck("idle_within_trip", "idle_s is null or idle_s <= duration_s + 0.001"),
        RowCheck("top_speed_below_average_is_sparse",
                 "max_speed_kmh is null or avg_speed_kmh is null "
                 "or max_speed_kmh >= avg_speed_kmh or array_contains(flags, 'sparse')"),
    ),
    reconciliations=(
        Reconciliation("trip distance equals odometer delta", """
            select trip_id, distance_km, start_odometer_m, end_odometer_m
            from marts.trips
            where start_time >= $since
              and distance_source = 'odometer'
              and not list_contains(flags, 'odometer_reset')
              and abs(distance_km * 1000 - (end_odometer_m - start_odometer_m))
                  > $odometer_tolerance_m
        """),
        Reconciliation("closed trips are at least min_trip_m long", """
            select trip_id, distance_km from marts.trips
            where start_time >= $since and distance_km * 1000 < $min_trip_m - 0.001
        """),
        Reconciliation("trips of a vehicle do not overlap", """
            select vid, start_time, previous_end_time from (
                select vid, start_time,
                       lag(end_time) over (partition by vid order by start_time)
                           as previous_end_time
                from marts.trips
                where end_time >= $since
            )
            where start_time >= $since and start_time < previous_end_time
        """),
    ),
)
