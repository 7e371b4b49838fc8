"""marts.vehicle_status: one row per vehicle: where it is and what it does now (as_of)."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Reconciliation, RowCheck, Scope, read_sql

MART = Mart(
    name="vehicle_status",
    grain="vehicle, as of the latest device time in the warehouse",
    columns=(
        MartColumn("vid", "bigint", False, unique=True),
        MartColumn("uid", "bigint"),
        MartColumn("as_of", "timestamptz", False, "the latest device time in the warehouse "
                   "(newest core.records tmx), not the wall clock"),
        MartColumn("last_seen", "timestamptz", False, "device time of its last record"),
        MartColumn("last_received_at", "timestamptz", False, "when ingest received its last "
                   "record"),
        MartColumn("lat", "double", ge=-90, le=90),
        MartColumn("lon", "double", ge=-180, le=180),
        MartColumn("speed_kmh", "double", ge=0),
        MartColumn("heading", "double"),
        MartColumn("ignition", "boolean", description="the ignition input now; NULL: not "
                   "read within max_gap_s before the last record"),
        MartColumn("driver_card", "varchar", description="the card of its last record"),
        MartColumn("state", "varchar", False, "silent (last record more than silent_after_s "
                   "before as_of), moving (speed > min_speed_kmh), idle (ignition on), "
                   "stopped", isin=("moving", "idle", "stopped", "silent")),
        MartColumn("silent_s", "double", False, "seconds from its last record to as_of", ge=0),
        MartColumn("current_trip_id", "varchar", description="its open trip; NULL: none",
                   length=32),
        MartColumn("fuel_level", "double", description="fuel level of its last record "
                   "(percent)", ge=0),
        MartColumn("engine_hours", "double", description="engine-hours counter of its last "
                   "record", ge=0),
        MartColumn("odometer_m", "bigint", description="odometer of its last record"),
    ),
    sql=read_sql(__file__),
    scope=Scope(
        # as_of moves every vehicle's silence: every row is recomputed on every build
        delete="delete from marts.vehicle_status",
        touched_since="select min(window_start) from trip_windows",
        touched_rows="true",
    ),
    reads=("core.records", "marts.vehicle_daily", "marts.io_state", "marts.trips"),
    row_checks=(
        RowCheck("seen_before_as_of", "last_seen <= as_of"),
        RowCheck("a_silent_vehicle_has_been_silent", "state <> 'silent' or silent_s > 0"),
    ),
    reconciliations=(
        Reconciliation("every vehicle of vehicle_daily has a status, at its last record", """
            with last_days as (
                select vid, max(last_seen) as last_seen from marts.vehicle_daily group by vid
            )
            select d.vid, d.last_seen, s.last_seen as status_last_seen
            from last_days as d
            left join marts.vehicle_status as s using (vid)
            where s.vid is null or s.last_seen <> d.last_seen
        """),
        Reconciliation("a vehicle's current trip is its open trip", """
            select s.vid, s.current_trip_id
            from marts.vehicle_status as s
            left join marts.trips as t
                on t.trip_id = s.current_trip_id and t.vid = s.vid and t.is_open
            where s.current_trip_id is not null and t.trip_id is null
        """),
    ),
)
