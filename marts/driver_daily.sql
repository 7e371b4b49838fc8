-- marts.driver_daily: per driver card and local day ($timezone), the trips they drove.
--
-- A trip counts for its driver_card (trips without a card count for nobody) on the local
-- day it starts, as in vehicle_daily; idle_s sums the idle time of those trips (NULL when
-- none of them knows it); overspeed_episodes counts the episodes of marts.overspeed with
-- that driver_card starting that day.
--
-- A driver drives several vehicles, so the days from the earliest local day of
-- trip_windows on are recomputed for every driver (trips are few: this reads only
-- marts.trips and marts.overspeed).
-- Parameters: $timezone.

with

first_day as (
    select min((window_start at time zone $timezone)::date) as first_day,
           min(window_start) - interval 2 day as earliest
    from trip_windows
),

day_trips as (
    select
        t.driver_card,
        (t.start_time at time zone $timezone)::date as day,
        t.vid,
        t.distance_km,
        t.duration_s,
        t.idle_s
    from marts.trips as t, first_day as f
    where t.driver_card is not null
      and t.start_time >= f.earliest
      and (t.start_time at time zone $timezone)::date >= f.first_day
),

day_episodes as (
    select
        o.driver_card,
        (o.start_time at time zone $timezone)::date as day,
        o.vid
    from marts.overspeed as o, first_day as f
    where o.driver_card is not null
      and o.start_time >= f.earliest
      and (o.start_time at time zone $timezone)::date >= f.first_day
),

trip_days as (
    select
        driver_card, day,
        count(*) as trips,
        round(sum(distance_km), 6) as distance_km,
        round(sum(duration_s), 3) as driving_s,
        round(sum(idle_s), 3) as idle_s
    from day_trips
    group by all
),

episode_days as (
    select driver_card, day, count(*) as overspeed_episodes
    from day_episodes
    group by all
),

vehicle_days as (
    select driver_card, day, count(distinct vid) as vehicles
    from (select driver_card, day, vid from day_trips
          union all select driver_card, day, vid from day_episodes)
    group by all
),

final as (
    select
        v.driver_card,
        v.day,
        v.vehicles,
        coalesce(t.trips, 0) as trips,
        coalesce(t.distance_km, 0) as distance_km,
        coalesce(t.driving_s, 0) as driving_s,
        t.idle_s,
        coalesce(e.overspeed_episodes, 0) as overspeed_episodes
    from vehicle_days as v
    left join trip_days as t using (driver_card, day)
    left join episode_days as e using (driver_card, day)
)

select * from final
