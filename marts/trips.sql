-- marts.trips: one row per trip of a vehicle (docs/warehouse.md "Trip rules").
--
-- Recomputed per vehicle from trip_windows.window_start on. A window starts at the arrival
-- of a trip whose stop was confirmed before any new data (or at -infinity), which is a point
-- where the rules below start afresh, so results do not depend on how data was cut into runs.
--
-- Sums of floating-point steps are rounded (distances to the millimetre) so that the
-- order in which a parallel aggregate adds them cannot change a result.
-- Parameters: $earliest_window_start (the minimum of trip_windows.window_start),
-- $ignition_io, $min_speed_kmh, $min_move_m, $min_stop_s, $min_trip_m,
-- $max_gap_s, $gap_min_odometer_m, $gap_min_speed_kmh, $max_odometer_speed_kmh,
-- $sparse_gap_s, $silent_after_s.

with

windows as (
    select vid, window_start from trip_windows
),

window_records as (
    select r.vid, r.uid, r.tmx, r.lat, r.lon, r.speed_kmh, r.odometer, r.driver_card
    from core.records as r
    join windows as w on r.vid = w.vid and r.tmx >= w.window_start
    where r.tmx >= $earliest_window_start  -- lets DuckDB skip older row groups
),

-- value of the ignition input at each record, when known (as of the record's time): its
-- changes from the window on and the value it had when the window began (the history
-- before the window is not read: io_changes and io_state hold where it stood)
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

-- every reading of the ignition input, a change or not: how fresh the known value is
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

-- rule: the ignition is known at a record when it was read at most max_gap_s before it;
-- an older reading (an 'off' whose 'on' was lost) is not trusted: motion rules apply
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

-- each record with the step from the record before it
steps as (
    select
        *,
        lag(tmx) over by_time as previous_tmx,
        epoch(tmx) - epoch(lag(tmx) over by_time) as step_s,
        haversine_m(lag(lat) over by_time, lag(lon) over by_time, lat, lon) as step_gps_m,
        odometer - lag(odometer) over by_time as step_odometer_m,
        lead(tmx) over by_time as next_tmx,
        epoch(lead(tmx) over by_time) - epoch(tmx) as next_step_s,
        haversine_m(lat, lon, lead(lat) over by_time, lead(lon) over by_time) as next_step_gps_m,
        -- idle: ignition on at <= min_speed_kmh, until the next record, unless the step is
        -- a gap, or a hole in the coverage (longer than sparse_gap_s) with a drive inside
        case
            when ignition_on and speed_kmh <= $min_speed_kmh
                and epoch(lead(tmx) over by_time) - epoch(tmx) <= $max_gap_s
                and (epoch(lead(tmx) over by_time) - epoch(tmx) <= $sparse_gap_s
                     or coalesce(
                         lead(odometer) over by_time - odometer,
                         haversine_m(lat, lon, lead(lat) over by_time, lead(lon) over by_time)
                     ) < $min_move_m)
            then epoch(lead(tmx) over by_time) - epoch(tmx)
            else 0
        end as idle_step_s
    from records_with_ignition
    window by_time as (partition by vid order by tmx)
),

-- rule: ignition decides when known; otherwise speed > 5 km/h or a move of >= 200 m.
-- A move belongs to the record it starts from: a record the vehicle leaves by 200 m
-- (within min_stop_s) is moving, the record it arrives at is not, unless it moves on.
-- rule: a data gap > 3600 s ends the trip unless the odometer grew >= 200 m at >= 4 km/h
moving as (
    select
        *,
        ignition_on is not null as by_ignition,
        coalesce(
            ignition_on,
            speed_kmh > $min_speed_kmh
                or coalesce(next_step_gps_m >= $min_move_m and next_step_s < $min_stop_s, false)
        ) as is_moving,
        step_s > $max_gap_s
            and step_odometer_m >= $gap_min_odometer_m
            and step_odometer_m / step_s * 3.6 >= $gap_min_speed_kmh as is_bridged_gap,
        step_s > $max_gap_s
            and not coalesce(
                step_odometer_m >= $gap_min_odometer_m
                and step_odometer_m / step_s * 3.6 >= $gap_min_speed_kmh,
                false
            ) as is_gap_break
    from steps
),

moving_with_context as (
    select
        *,
        sum(is_gap_break::int) over running as gap_breaks_so_far,
        sum(coalesce(not ignition_on, false)::int) over running as ignition_offs_so_far,
        lead(is_gap_break) over by_time as next_is_gap_break
    from moving
    window
        by_time as (partition by vid order by tmx),
        running as (partition by vid order by tmx rows unbounded preceding)
),

-- for each moving record: where the previous moving record arrived, and gaps since then
moving_after_previous as (
    select
        *,
        last_value(case when is_moving then next_tmx end ignore nulls) over earlier
            as previous_arrival_tmx,
        last_value(case when is_moving then gap_breaks_so_far end ignore nulls) over earlier
            as gap_breaks_at_previous_moving,
        last_value(case when is_moving then ignition_offs_so_far end ignore nulls) over earlier
            as ignition_offs_at_previous_moving
    from moving_with_context
    window earlier as (partition by vid order by tmx
                       rows between unbounded preceding and 1 preceding)
),

-- rule: a stop shorter than 300 s does not split a trip (traffic lights), but switching
-- the ignition off (when it is known) does
trip_starts as (
    select
        *,
        is_moving and (
            previous_arrival_tmx is null
            or gap_breaks_so_far > gap_breaks_at_previous_moving
            or ignition_offs_so_far > ignition_offs_at_previous_moving
            or epoch(tmx) - epoch(previous_arrival_tmx) >= $min_stop_s
        ) as starts_trip
    from moving_after_previous
),

numbered_moving_records as (
    select
        *,
        sum(starts_trip::int) over (partition by vid order by tmx rows unbounded preceding)
            as trip_number
    from trip_starts
    where is_moving
),

-- rule: a trip ends at arrival (the first record after its last moving one), not when the
-- stop is confirmed; a gap that ends a trip ends it at its last record. It starts at its
-- first moving record; a trip detected by motion measures its distance and start position
-- from departure: the record at rest just before (less than min_stop_s before, no gap).
trip_bounds as (
    select
        vid,
        trip_number,
        min(tmx) as start_time,
        min(
            case
                when starts_trip and not by_ignition and previous_tmx is not null
                    and not is_gap_break and step_s < $min_stop_s
                then previous_tmx
                else tmx
            end
        ) as departure_time,
        max_by(
            case when next_tmx is not null and not next_is_gap_break then next_tmx else tmx end,
            tmx
        ) as end_time,
        max_by(
            case
                when next_tmx is null then 'open'
                when next_is_gap_break then 'gap'
                else 'arrival'
            end,
            tmx
        ) as end_reason,
        bool_or(by_ignition and starts_trip) as by_ignition
    from numbered_moving_records
    group by vid, trip_number
),

trip_records as (
    select
        b.vid, b.trip_number, b.start_time as trip_start_time, b.end_time as trip_end_time,
        s.*  exclude (vid)
    from trip_bounds as b
    join moving_with_context as s
        on s.vid = b.vid and s.tmx between b.departure_time and b.end_time
),

-- rule: distance is the odometer difference when present and sane, else the GPS sum;
-- an odometer that goes backwards is a reset (that step counts its GPS distance instead)
trip_measures as (
    select
        vid,
        trip_number,
        any_value(uid order by tmx) as uid,
        count(*) as n_records,
        max(speed_kmh) as max_speed_kmh,
        first(driver_card order by tmx) filter (where driver_card is not null) as driver_card,
        first(lat order by tmx) as start_lat,
        first(lon order by tmx) as start_lon,
        last(lat order by tmx) as end_lat,
        last(lon order by tmx) as end_lon,
        first(odometer order by tmx) as start_odometer_m,
        last(odometer order by tmx) as end_odometer_m,
        coalesce(sum(step_gps_m) filter (where tmx > start_tmx), 0) as gps_distance_m,
        coalesce(sum(
            case when step_odometer_m >= 0 then step_odometer_m else step_gps_m end
        ) filter (where tmx > start_tmx), 0) as odometer_distance_m,
        count(odometer) = count(*) as odometer_present,
        coalesce(bool_and(
            step_odometer_m < 0
            or step_odometer_m / greatest(step_s, 1) * 3.6 <= $max_odometer_speed_kmh
        ) filter (where tmx > start_tmx), true) as odometer_sane,
        coalesce(bool_or(step_odometer_m < 0) filter (where tmx > start_tmx), false)
            as odometer_reset,
        coalesce(bool_or(is_bridged_gap) filter (where tmx > start_tmx), false) as gap_inferred,
        -- the longest step between two records of the trip (from departure on)
        coalesce(max(step_s) filter (where tmx > start_tmx), 0) as longest_gap_s,
        -- idle inside the trip: the steps from its start to its end; NULL without ignition
        case
            when bool_or(ignition_on is not null)
                filter (where tmx between trip_start_time and trip_end_time)
            then coalesce(sum(idle_step_s)
                filter (where tmx >= trip_start_time and tmx < trip_end_time), 0)
        end as idle_s
    from (
        select *, min(tmx) over (partition by vid, trip_number) as start_tmx
        from trip_records
    )
    group by vid, trip_number
),

last_record_of_vehicle as (
    select vid, max(tmx) as last_tmx from window_records group by vid
),

-- the latest device time in the warehouse (not the wall clock)
as_of as (
    select max(tmx) as as_of from core.records
),

-- rule: a trip still in progress (no arrival, or a stop not yet 300 s long) is unfinished;
-- it is open, unless the vehicle is silent (its last record more than silent_after_s
-- before as_of): then it is closed at its last record, flagged signal_lost
trips_with_state as (
    select
        b.*,
        b.end_reason = 'open'
            or (b.end_reason = 'arrival'
                and epoch(l.last_tmx) - epoch(b.end_time) < $min_stop_s) as is_unfinished,
        epoch(a.as_of) - epoch(l.last_tmx) > $silent_after_s as is_silent
    from trip_bounds as b
    join last_record_of_vehicle as l using (vid)
    cross join as_of as a
),

trips as (
    select
        b.vid,
        m.uid,
        b.start_time,
        b.end_time,
        case when b.end_reason = 'open' and b.is_silent then 'signal_lost' else b.end_reason end
            as end_reason,
        b.is_unfinished and not b.is_silent as is_open,
        b.is_unfinished and b.is_silent as signal_lost,
        m.*  exclude (vid, trip_number, uid),
        m.odometer_present and m.odometer_sane as use_odometer,
        b.by_ignition
    from trips_with_state as b
    join trip_measures as m using (vid, trip_number)
),

-- rule: a trip shorter than 200 m is dropped
kept_trips as (
    select
        *,
        case when use_odometer then odometer_distance_m else gps_distance_m end as distance_m
    from trips
    where case when use_odometer then odometer_distance_m else gps_distance_m end
        >= $min_trip_m
),

measured_trips as (
    select
        *,
        case when epoch(end_time) > epoch(start_time)
            then round(distance_m / 1000 / ((epoch(end_time) - epoch(start_time)) / 3600), 3)
        end as avg_speed_kmh
    from kept_trips
),

final as (
    select
        surrogate_key(vid, epoch_us(start_time)) as trip_id,
        vid,
        uid,
        start_time,
        end_time,
        epoch(end_time) - epoch(start_time) as duration_s,
        start_lat,
        start_lon,
        end_lat,
        end_lon,
        round(distance_m / 1000, 6) as distance_km,
        case when use_odometer then 'odometer' else 'gps' end as distance_source,
        round(gps_distance_m / 1000, 6) as gps_distance_km,
        max_speed_kmh,
        avg_speed_kmh,
        n_records,
        longest_gap_s,
        round(idle_s, 3) as idle_s,
        driver_card,
        case when by_ignition then 'ignition' else 'motion' end as detection,
        list_filter(
            [
                case when gap_inferred then 'gap_inferred' end,
                case when odometer_reset then 'odometer_reset' end,
                case when is_open then 'open' end,
                case when signal_lost then 'signal_lost' end,
                -- rule: a track that cannot be trusted is sparse: two records, a step
                -- longer than sparse_gap_s, or recorded speeds all below the average
                case
                    when n_records <= 2 or longest_gap_s > $sparse_gap_s
                        or coalesce(max_speed_kmh < avg_speed_kmh, false)
                    then 'sparse'
                end
            ],
            lambda flag: flag is not null
        )::varchar[] as flags,
        is_open,
        end_reason,
        start_odometer_m,
        end_odometer_m
    from measured_trips
)

select * from final
