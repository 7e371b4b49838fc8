"""marts.driver_daily: per driver card and local day, the trips driven and overspeeding."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Reconciliation, Scope, read_sql

FIRST_DAY = "(select min((window_start at time zone $timezone)::date) from trip_windows)"

MART = Mart(
    name="driver_daily",
    grain="driver card and local day (the configured time zone)",
    columns=(
        MartColumn("driver_card", "varchar", False, "trips.driver_card"),
        MartColumn("day", "date", False, "local day in the configured time zone of the "
                   "trips' start"),
        MartColumn("vehicles", "bigint", False, "distinct vehicles driven", ge=1),
        MartColumn("trips", "bigint", False, ge=0),
        MartColumn("distance_km", "double", False, ge=0),
        MartColumn("driving_s", "double", False, ge=0),
        MartColumn("idle_s", "double", description="the idle time of the trips; NULL: none "
                   "of them knows the ignition", ge=0),
        MartColumn("overspeed_episodes", "bigint", False, "marts.overspeed episodes with this "
                   "driver card starting that day", ge=0),
    ),
    sql=read_sql(__file__),
    sorted_by="day",
    scope=Scope(
        windows="trip_windows",
        delete=f"delete from marts.driver_daily where day >= {FIRST_DAY}",
        touched_since="select min(window_start) - interval 2 day from trip_windows",
        touched_rows="day >= ($since at time zone $timezone)::date",
    ),
    reads=("marts.trips", "marts.overspeed"),
    reconciliations=(
        Reconciliation("driver_daily adds up the trips of its driver and day", """
            with trip_days as (
                select driver_card, (start_time at time zone $timezone)::date as day,
                       count(*) as trips, sum(distance_km) as distance_km,
                       sum(duration_s) as driving_s
                from marts.trips
                where driver_card is not null and start_time >= $since - interval 2 day
                group by all
            )
            select d.driver_card, d.day, d.trips, t.trips as trip_rows,
                   d.distance_km, t.distance_km as trips_distance_km
            from marts.driver_daily as d
            full join trip_days as t using (driver_card, day)
            where coalesce(d.day, t.day) >= ($since at time zone $timezone)::date
              and (coalesce(d.trips, 0) <> coalesce(t.trips, 0)
                   or abs(coalesce(d.distance_km, 0) - coalesce(t.distance_km, 0)) > 0.001
                   or abs(coalesce(d.driving_s, 0) - coalesce(t.driving_s, 0)) > 0.01)
        """),
        Reconciliation("driver_daily overspeed adds up the episodes of its driver", """
            with episode_days as (
                select driver_card, (start_time at time zone $timezone)::date as day,
                       count(*) as episodes
                from marts.overspeed
                where driver_card is not null and start_time >= $since - interval 2 day
                group by all
            )
            select d.driver_card, d.day, d.overspeed_episodes, e.episodes
            from marts.driver_daily as d
            full join episode_days as e using (driver_card, day)
            where coalesce(d.day, e.day) >= ($since at time zone $timezone)::date
              and coalesce(d.overspeed_episodes, 0) <> coalesce(e.episodes, 0)
        """),
    ),
)
