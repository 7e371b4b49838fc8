"""marts.overspeed: one row per episode of a vehicle above its speed limit."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Reconciliation, RowCheck, Scope, read_sql

MART = Mart(
    name="overspeed",
    grain="episode of a vehicle above its speed limit (consecutive records above it)",
    columns=(
        MartColumn("episode_id", "varchar", False, "md5 of vid and start time", unique=True,
                   length=32),
        MartColumn("vid", "bigint", False),
        MartColumn("uid", "bigint"),
        MartColumn("trip_id", "varchar", description="the trip whose span holds its start; "
                   "NULL: outside any trip", length=32),
        MartColumn("driver_card", "varchar", description="its trip's driver card, else the "
                   "first card of its records"),
        MartColumn("start_time", "timestamptz", False, "the first record above the limit"),
        MartColumn("end_time", "timestamptz", False, "the first record back at or under the "
                   "limit; the last above when the data stops or a gap follows"),
        MartColumn("duration_s", "double", False, ge=0),
        MartColumn("max_speed_kmh", "double", False, ge=0),
        MartColumn("avg_speed_kmh", "double", False, "the mean of the speeds recorded above "
                   "the limit", ge=0),
        MartColumn("distance_km", "double", False, "great-circle distance along its records, "
                   "start to end", ge=0),
        MartColumn("limit_kmh", "double", False, "speed_limit_kmh, or the vehicle's own "
                   "(vehicle_speed_limits)", ge=0),
        MartColumn("start_lat", "double", ge=-90, le=90),
        MartColumn("start_lon", "double", ge=-180, le=180),
        MartColumn("n_records", "bigint", False, "records above the limit", ge=1),
        MartColumn("end_reason", "varchar", False, "under_limit, gap (the next record is "
                   "more than max_gap_s later), data_end (no later record yet)",
                   isin=("under_limit", "gap", "data_end")),
    ),
    sql=read_sql(__file__),
    sorted_by="start_time",
    scope=Scope(
        windows="trip_windows",
        delete="""
            delete from marts.overspeed as o using trip_windows as w
            where o.vid = w.vid and o.start_time >= w.window_start
        """,
        touched_since="select min(window_start) from trip_windows",
        touched_rows="start_time >= $since",
    ),
    reads=("core.records", "marts.trips"),
    row_checks=(
        RowCheck("ends_after_start", "end_time >= start_time"),
        RowCheck("above_the_limit", "max_speed_kmh > limit_kmh and avg_speed_kmh > limit_kmh "
                 "and avg_speed_kmh <= max_speed_kmh + 0.001"),
    ),
    reconciliations=(
        Reconciliation("overspeed episodes of a vehicle do not overlap", """
            select vid, start_time, previous_end_time from (
                select vid, start_time,
                       lag(end_time) over (partition by vid order by start_time)
                           as previous_end_time
                from marts.overspeed
                where end_time >= $since
            )
            where start_time >= $since and start_time < previous_end_time
        """),
        Reconciliation("an episode's trip holds its start", """
            select o.episode_id, o.trip_id
            from marts.overspeed as o
            left join marts.trips as t using (trip_id)
            where o.start_time >= $since and o.trip_id is not null
              and (t.trip_id is null or t.vid <> o.vid
                   or o.start_time not between t.start_time and t.end_time)
        """),
    ),
)
