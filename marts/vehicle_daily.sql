-- marts.vehicle_daily: per vehicle and local day ($timezone, an IANA zone), its trips,
-- distance, driving and idle time, top speed and first/last record.
--
-- A trip and a stop count on the local day they start: idle_s is the idle time of the
-- trips and stops starting that day (so the days add up to them), NULL when the vehicle has
-- reported no ignition value by the day's last record. Recomputed per vehicle for the days
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

daily_records as (
    select
        r.vid,
        (r.tmx at time zone $timezone)::date as day,
        min(r.tmx) as first_seen,
        max(r.tmx) as last_seen,
        max(r.speed_kmh) as max_speed_kmh,
        coalesce(bool_or(r.tmx >= g.first_ignition_at), false) as reports_ignition
    from core.records as r
    join windows as w
        on r.vid = w.vid and r.tmx >= w.window_start - interval 2 day
    left join first_ignition as g on r.uid = g.uid
    where r.tmx >= $earliest_window_start - interval 2 day
      and (r.tmx at time zone $timezone)::date >= w.first_day
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
        r.first_seen,
        r.last_seen
    from daily_records as r
    left join daily_trips as t using (vid, day)
    left join daily_stops as s using (vid, day)
)

select * from final
