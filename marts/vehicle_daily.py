"""marts.vehicle_daily: per vehicle and local day, its trips, distance, driving, idling,
overspeed episodes, engine hours and fuel."""

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
        MartColumn("overspeed_episodes", "bigint", False, "marts.overspeed episodes starting "
                   "that day", ge=0),
        MartColumn("engine_hours", "double", description="growth of the engine-hours counter "
                   "between the day's readings (a reset counts nothing); NULL: fewer than two "
                   "readings", ge=0),
        MartColumn("first_fuel_pct", "double",
                   description="the day's first fuel level reading (percent)", ge=0),
        MartColumn("last_fuel_pct", "double",
                   description="the day's last fuel level reading (percent)", ge=0),
        MartColumn("fuel_used_pct", "double", description="sum of the fuel level's drops "
                   "between the day's readings; NULL: fewer than two readings", ge=0),
        MartColumn("fuel_added_pct", "double", description="sum of its rises (refuelling); "
                   "NULL: fewer than two readings", ge=0),
        MartColumn("first_seen", "timestamptz", False),
        MartColumn("last_seen", "timestamptz", False),
    ),
    sql=read_sql(__file__),
    sorted_by="day",
    scope=Scope(
        windows="trip_windows",
        delete="""
            delete from marts.vehicle_daily as d using trip_windows as w
            where d.vid = w.vid and d.day >= (w.window_start at time zone $timezone)::date
        """,
        touched_since="select min(window_start) - interval 2 day from trip_windows",
        touched_rows="day >= ($since at time zone $timezone)::date",
    ),
    reads=("core.records", "marts.io_state", "marts.overspeed", "marts.trips",
           "marts.stops"),
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
        Reconciliation("vehicle_daily overspeed episodes add up the episodes of the day", """
            with episode_days as (
                select vid, (start_time at time zone $timezone)::date as day,
                       count(*) as episodes
                from marts.overspeed
                where start_time >= $since - interval 2 day
                group by all
            )
            select d.vid, d.day, d.overspeed_episodes, e.episodes
            from marts.vehicle_daily as d
            left join episode_days as e using (vid, day)
            where d.day >= ($since at time zone $timezone)::date
              and d.overspeed_episodes <> coalesce(e.episodes, 0)
        """),
        Reconciliation("every overspeed episode counts on a vehicle_daily row", """
            select o.episode_id
            from marts.overspeed as o
            anti join marts.vehicle_daily as d
                on d.vid = o.vid and d.day = (o.start_time at time zone $timezone)::date
            where o.start_time >= $since
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
