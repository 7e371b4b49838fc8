-- marts.stops: one row per stop between two trips of a vehicle.
--
-- A stop runs from the arrival of a trip to the start of the next one, at the arrival's
-- position. idle_s is the part of it with the engine running: ignition on when the
-- ignition is known, else rpm > 0.
--
-- Recomputed per vehicle for the stops starting at or after trip_windows.window_start
-- (that is, after the trips of the same windows were rebuilt).
-- Parameters: $earliest_window_start (the minimum of trip_windows.window_start),
-- $ignition_io.

with

windows as (
    select vid, window_start from trip_windows
),

trips_in_window as (
    select t.vid, t.start_time, t.end_time, t.end_lat, t.end_lon, t.is_open
    from marts.trips as t
    join windows as w on t.vid = w.vid and t.end_time >= w.window_start
    where t.end_time >= $earliest_window_start
),

stops as (
    select
        vid,
        end_time as start_time,
        lead(start_time) over (partition by vid order by start_time) as end_time,
        end_lat as lat,
        end_lon as lon
    from trips_in_window
),

closed_stops as (
    select * from stops where end_time is not null
),

window_records as (
    select
        r.vid, r.uid, r.tmx, r.rpm,
        lead(r.tmx) over (partition by r.vid order by r.tmx) as next_tmx
    from core.records as r
    join windows as w on r.vid = w.vid and r.tmx >= w.window_start
    where r.tmx >= $earliest_window_start  -- lets DuckDB skip older row groups
),

ignition_changes as (
    select uid, changed_at, to_value
    from marts.io_changes
    where io = $ignition_io
      and uid in (select distinct uid from window_records)
),

records_with_engine as (
    select
        r.*,
        coalesce(i.to_value > 0, r.rpm > 0, false) as engine_on
    from window_records as r
    asof left join ignition_changes as i
        on r.uid = i.uid and r.tmx >= i.changed_at
),

idle_time as (
    select
        s.vid,
        s.start_time,
        sum(
            epoch(least(coalesce(r.next_tmx, s.end_time), s.end_time)) - epoch(r.tmx)
        ) filter (where r.engine_on) as idle_s
    from closed_stops as s
    join records_with_engine as r
        on r.vid = s.vid and r.tmx >= s.start_time and r.tmx < s.end_time
    group by s.vid, s.start_time
),

final as (
    select
        s.vid,
        s.start_time,
        s.end_time,
        epoch(s.end_time) - epoch(s.start_time) as duration_s,
        s.lat,
        s.lon,
        round(coalesce(i.idle_s, 0), 3) as idle_s
    from closed_stops as s
    left join idle_time as i using (vid, start_time)
)

select * from final
