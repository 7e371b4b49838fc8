-- marts.vehicle_daily: per vehicle and local day ($timezone, an IANA zone), its trips,
-- distance, driving and idle time, top speed, overspeed episodes, engine hours, fuel and
-- first/last record.
--
-- A trip and a stop count on the local day they start: idle_s is the idle time of the
-- trips and stops starting that day (so the days add up to them), NULL when the vehicle has
-- reported no ignition value by the day's last record. An overspeed episode counts on the
-- day it starts. Engine hours and fuel are read within the day only (a day's numbers never
-- depend on another day's records): engine_hours is the growth of the engine-hours
-- counter between consecutive readings of the day (a counter going backwards is a reset:
-- that step counts nothing); fuel_used_pct sums the drops of the fuel level between
-- consecutive readings, fuel_added_pct its rises (refuelling). Recomputed per vehicle for the days
-- from the local day of trip_windows.window_start on.
-- Parameters: $timezone, $earliest_window_start (the minimum of trip_windows.window_start),
-- $ignition_io.

with

windows as (
    select vid, window_start, (window_start at time zone $timezone)::date as first_day
    from trip_windows
),

-- when each unit first reported a value of its ignition input
first_ignition as (
    select uid, first_seen as first_ignition_at
    from marts.io_state
    where io = $ignition_io
),

day_records as (
    select
        r.vid,
        r.uid,
        r.tmx,
        r.speed_kmh,
        (r.tmx at time zone $timezone)::date as day,
        r.engine_hours,
        r.fuel_level
    from core.records as r
    join windows as w
        on r.vid = w.vid and r.tmx >= w.window_start - interval 2 day
    where r.tmx >= $earliest_window_start - interval 2 day
      and (r.tmx at time zone $timezone)::date >= w.first_day
),

-- the step of each counter from its previous reading of the same day
engine_hours_steps as (
    select vid, day,
           engine_hours - lag(engine_hours) over (partition by vid, day order by tmx) as step
    from day_records
    where engine_hours is not null
),

fuel_steps as (
    select vid, day,
           fuel_level - lag(fuel_level) over (partition by vid, day order by tmx) as step
    from day_records
    where fuel_level is not null
),

daily_counters as (
    select vid, day, e.engine_hours, f.fuel_used_pct, f.fuel_added_pct
    from (
        select vid, day,
               round(sum(case when step > 0 then step else 0 end), 3) as engine_hours
        from engine_hours_steps
        group by all
        having count(step) > 0
    ) as e
    full join (
        select vid, day,
               round(sum(case when step < 0 then -step else 0 end), 3) as fuel_used_pct,
               round(sum(case when step > 0 then step else 0 end), 3) as fuel_added_pct
        from fuel_steps
        group by all
        having count(step) > 0
    ) as f using (vid, day)
),

daily_records as (
    select
        r.vid,
        r.day,
        min(r.tmx) as first_seen,
        max(r.tmx) as last_seen,
        max(r.speed_kmh) as max_speed_kmh,
        coalesce(bool_or(r.tmx >= g.first_ignition_at), false) as reports_ignition,
        first(r.fuel_level order by r.tmx) filter (where r.fuel_level is not null)
            as first_fuel_pct,
        last(r.fuel_level order by r.tmx) filter (where r.fuel_level is not null)
            as last_fuel_pct
    from day_records as r
    left join first_ignition as g on r.uid = g.uid
    group by all
),

daily_trips as (
    select
        t.vid,
        (t.start_time at time zone $timezone)::date as day,
        count(*) as trips,
        round(sum(t.distance_km), 6) as distance_km,
        round(sum(t.duration_s), 3) as driving_s,
        sum(t.idle_s) as idle_s
    from marts.trips as t
    join windows as w
        on t.vid = w.vid and t.start_time >= w.window_start - interval 2 day
    where t.start_time >= $earliest_window_start - interval 2 day
      and (t.start_time at time zone $timezone)::date >= w.first_day
    group by all
),

daily_stops as (
    select
        s.vid,
        (s.start_time at time zone $timezone)::date as day,
        sum(s.idle_s) as idle_s
    from marts.stops as s
    join windows as w
        on s.vid = w.vid and s.start_time >= w.window_start - interval 2 day
    where s.start_time >= $earliest_window_start - interval 2 day
      and (s.start_time at time zone $timezone)::date >= w.first_day
    group by all
),

daily_overspeed as (
    select
        o.vid,
        (o.start_time at time zone $timezone)::date as day,
        count(*) as overspeed_episodes
    from marts.overspeed as o
    join windows as w
        on o.vid = w.vid and o.start_time >= w.window_start - interval 2 day
    where o.start_time >= $earliest_window_start - interval 2 day
      and (o.start_time at time zone $timezone)::date >= w.first_day
    group by all
),

final as (
    select
        r.vid,
        r.day,
        coalesce(t.trips, 0) as trips,
        coalesce(t.distance_km, 0) as distance_km,
        coalesce(t.driving_s, 0) as driving_s,
        case when r.reports_ignition
            then round(coalesce(t.idle_s, 0) + coalesce(s.idle_s, 0), 3)
        end as idle_s,
        r.max_speed_kmh,
        coalesce(o.overspeed_episodes, 0) as overspeed_episodes,
        c.engine_hours,
        r.first_fuel_pct,
        r.last_fuel_pct,
        c.fuel_used_pct,
        c.fuel_added_pct,
        r.first_seen,
        r.last_seen
    from daily_records as r
    left join daily_trips as t using (vid, day)
    left join daily_stops as s using (vid, day)
    left join daily_overspeed as o using (vid, day)
    left join daily_counters as c using (vid, day)
)

select * from final
