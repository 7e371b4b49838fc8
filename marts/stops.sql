-- marts.stops: one row per stop of a vehicle: between two trips, before its first trip,
-- and the one it is in now.
--
-- A stop between two trips runs from the arrival of one to the start of the next, at the
-- arrival's position. The first stop (flag 'first') runs from the first record at rest
-- (speed <= min_speed_kmh) to the start of the first trip: the vehicle may have stood
-- there longer, unseen. The current stop (flag 'open', is_open) runs from the arrival of
-- the last trip (or the first record at rest, when there is no trip) to the last record;
-- a later build extends it or ends it with a trip. Motion too short to be a trip is part
-- of the stop.
--
-- idle_s: the time with the ignition on at <= min_speed_kmh, from each such record to the
-- next one (not across a step longer than max_gap_s, nor across a hole longer than
-- sparse_gap_s in which the vehicle moved min_move_m or more); the ignition is known at a record when it was read at most
-- max_gap_s before it. NULL when no record of the stop knows it.
--
-- Recomputed per vehicle for the stops starting at or after trip_windows.window_start
-- (that is, after the trips of the same windows were rebuilt); the first stop only when
-- the window starts at -infinity.
-- Parameters: $earliest_window_start (the minimum of trip_windows.window_start),
-- $ignition_io, $min_speed_kmh, $max_gap_s, $sparse_gap_s, $min_move_m.

with

windows as (
    select vid, window_start from trip_windows
),

trips_in_window as (
    select t.vid, t.start_time, t.end_time, t.end_lat, t.end_lon
    from marts.trips as t
    join windows as w on t.vid = w.vid and t.end_time >= w.window_start
    where t.end_time >= $earliest_window_start
),

window_records as (
    select
        r.vid, r.uid, r.tmx, r.lat, r.lon, r.speed_kmh,
        lead(r.tmx) over by_time as next_tmx,
        -- how far the vehicle moved until the next record: odometer, else GPS
        coalesce(
            lead(r.odometer) over by_time - r.odometer,
            haversine_m(r.lat, r.lon, lead(r.lat) over by_time, lead(r.lon) over by_time)
        ) as next_move_m
    from core.records as r
    join windows as w on r.vid = w.vid and r.tmx >= w.window_start
    where r.tmx >= $earliest_window_start  -- lets DuckDB skip older row groups
    window by_time as (partition by r.vid order by r.tmx)
),

vehicle_records as (
    select
        vid,
        max(tmx) as last_tmx,
        min(tmx) filter (where speed_kmh <= $min_speed_kmh) as first_rest_tmx,
        arg_min(lat, tmx) filter (where speed_kmh <= $min_speed_kmh) as first_rest_lat,
        arg_min(lon, tmx) filter (where speed_kmh <= $min_speed_kmh) as first_rest_lon
    from window_records
    group by vid
),

between_and_after_trips as (
    select
        t.vid,
        t.end_time as start_time,
        coalesce(
            lead(t.start_time) over (partition by t.vid order by t.start_time), v.last_tmx
        ) as end_time,
        t.end_lat as lat,
        t.end_lon as lon,
        false as is_first,
        lead(t.start_time) over (partition by t.vid order by t.start_time) is null as is_open
    from trips_in_window as t
    join vehicle_records as v using (vid)
),

before_first_trip as (
    select
        v.vid,
        v.first_rest_tmx as start_time,
        coalesce(f.first_start, v.last_tmx) as end_time,
        v.first_rest_lat as lat,
        v.first_rest_lon as lon,
        true as is_first,
        f.first_start is null as is_open
    from vehicle_records as v
    join windows as w using (vid)
    left join (
        select vid, min(start_time) as first_start from trips_in_window group by vid
    ) as f using (vid)
    where w.window_start = '-infinity'::timestamptz
),

-- an open stop that has not lasted yet (the vehicle is still moving, or just arrived)
-- is not a stop
stops as (
    select * from between_and_after_trips where end_time > start_time
    union all
    select * from before_first_trip where end_time > start_time
),

-- the ignition's changes from the window on and its value when the window began (as in
-- trips.sql)
ignition_changes as (
    select uid, changed_at, to_value
    from marts.io_changes
    where io = $ignition_io and changed_at >= $earliest_window_start
      and uid in (select distinct uid from window_records)
    union all
    -- the value before a unit's first change in the window: that change's from_value,
    -- held since the change before it (or the first reading)
    select uid, arg_min(previous_changed_at, changed_at), arg_min(from_value, changed_at)
    from marts.io_changes
    where io = $ignition_io and changed_at >= $earliest_window_start
      and uid in (select distinct uid from window_records)
    group by uid
    union all
    -- a unit with no change in the window: its value now (io_state is built already),
    -- held since its last change; and its first value from its first reading on
    select uid, since, value
    from marts.io_state
    where io = $ignition_io and since < $earliest_window_start
      and uid in (select distinct uid from window_records)
    union all
    select uid, first_seen, first_value
    from marts.io_state
    where io = $ignition_io
      and uid in (select distinct uid from window_records)
),

ignition_readings as (
    select uid, tmx from core.record_io
    where io = $ignition_io and tmx >= $earliest_window_start - to_seconds($max_gap_s)
      and uid in (select distinct uid from window_records)
    union all
    select uid, tmx from core.io_events
    where io = $ignition_io and tmx >= $earliest_window_start - to_seconds($max_gap_s)
      and uid in (select distinct uid from window_records)
    union all
    select uid, tmx from core.io_snapshots
    where io = $ignition_io and tmx >= $earliest_window_start - to_seconds($max_gap_s)
      and uid in (select distinct uid from window_records)
),

records_with_ignition as (
    select
        r.*,
        case when epoch(r.tmx) - epoch(g.tmx) <= $max_gap_s then i.to_value > 0 end
            as ignition_on
    from window_records as r
    asof left join ignition_changes as i
        on r.uid = i.uid and r.tmx >= i.changed_at
    asof left join ignition_readings as g
        on r.uid = g.uid and r.tmx >= g.tmx
),

idle_time as (
    select
        s.vid,
        s.start_time,
        case when bool_or(r.ignition_on is not null) then coalesce(sum(
            epoch(r.next_tmx) - epoch(r.tmx)
        ) filter (
            where r.tmx < s.end_time and r.ignition_on and r.speed_kmh <= $min_speed_kmh
                and epoch(r.next_tmx) - epoch(r.tmx) <= $max_gap_s
                and (epoch(r.next_tmx) - epoch(r.tmx) <= $sparse_gap_s
                     or r.next_move_m < $min_move_m)
        ), 0) end as idle_s
    from stops as s
    join records_with_ignition as r
        on r.vid = s.vid and r.tmx >= s.start_time and r.tmx <= s.end_time
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
        round(i.idle_s, 3) as idle_s,
        s.is_open,
        list_filter(
            [case when s.is_first then 'first' end, case when s.is_open then 'open' end],
            lambda flag: flag is not null
        )::varchar[] as flags
    from stops as s
    left join idle_time as i using (vid, start_time)
)

select * from final
