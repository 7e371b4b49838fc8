"""marts.vehicle_daily: per vehicle and local day, its trips, distance, driving and idling."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Reconciliation, RowCheck, Scope, read_sql

MART = Mart(
    name="vehicle_daily",
    grain="vehicle and local day (the configured time zone)",
    columns=(
        MartColumn("vid", "bigint", False),
        MartColumn("day", "date", False, "local day in the configured time zone"),
        MartColumn("trips", "bigint", False, ge=0),
        MartColumn("distance_km", "double", False, ge=0),
        MartColumn("driving_s", "double", False, ge=0, le=2 * 86400),
        MartColumn("idle_s", "double", description="NULL: the vehicle reported no ignition "
                   "yet", ge=0),
        MartColumn("max_speed_kmh", "double", ge=0),
        MartColumn("first_seen", "timestamptz", False),
        MartColumn("last_seen", "timestamptz", False),
    ),
    sql=read_sql(__file__),
    scope=Scope(
        windows="trip_windows",
        delete="""
            delete from marts.vehicle_daily as d using trip_windows as w
            where d.vid = w.vid and d.day >= (w.window_start at time zone $timezone)::date
        """,
        touched_since="select min(window_start) - interval 2 day from trip_windows",
        touched_rows="day >= ($since at time zone $timezone)::date",
    ),
    reads=("core.records", "marts.io_state", "marts.trips", "marts.stops"),
    row_checks=(RowCheck("seen_in_order", "first_seen <= last_seen"),),
    reconciliations=(
        Reconciliation("vehicle_daily distance adds up its trips", """
            with trip_days as (
                select vid, (start_time at time zone $timezone)::date as day,
                       sum(distance_km) as distance_km, count(*) as trips
                from marts.trips
                where start_time >= $since - interval 2 day
                group by all
            )
            select d.vid, d.day, d.distance_km, t.distance_km as trips_distance_km
            from marts.vehicle_daily as d
            left join trip_days as t using (vid, day)
            where d.day >= ($since at time zone $timezone)::date
              and (abs(d.distance_km - coalesce(t.distance_km, 0)) > 0.001
                   or d.trips <> coalesce(t.trips, 0))
        """),
        Reconciliation("vehicle_daily idle adds up its trips and stops", """
            with parts as (
                select vid, (start_time at time zone $timezone)::date as day, idle_s
                from marts.trips where start_time >= $since - interval 2 day
                union all
                select vid, (start_time at time zone $timezone)::date as day, idle_s
                from marts.stops where start_time >= $since - interval 2 day
            ),
            part_days as (select vid, day, sum(idle_s) as idle_s from parts group by all)
            select d.vid, d.day, d.idle_s, p.idle_s as trips_and_stops_idle_s
            from marts.vehicle_daily as d
            left join part_days as p using (vid, day)
            where d.day >= ($since at time zone $timezone)::date
              and d.idle_s is not null
              and abs(d.idle_s - coalesce(p.idle_s, 0)) > 0.01
        """),
    ),
)
