-- marts.overspeed: one row per episode of a vehicle above its speed limit.
--
-- The limit is $speed_limit_kmh, or the vehicle's own in $vehicle_speed_limits
-- ('vid=km/h,...'). Consecutive records above the limit (speed_kmh > limit) form one
-- episode: it starts at the first record above and ends at the first record back at or
-- under it (end_reason 'under_limit'); at the last record above when the data stops there
-- ('data_end': a later build extends it) or when the next record is more than max_gap_s
-- later ('gap': a data hole says nothing). Records without a speed are skipped.
-- distance_km is the great-circle distance along its records, from start to end;
-- avg_speed_kmh the mean of the speeds recorded above the limit; trip_id the trip whose
-- span holds its start; driver_card that trip's, else the first card of its records.
--
-- Recomputed per vehicle from trip_windows.window_start on (after the trips): a window
-- starts at an arrival, a record at rest, so no episode runs across its start.
-- Parameters: $earliest_window_start, $speed_limit_kmh, $vehicle_speed_limits, $max_gap_s.

with

windows as (
    select vid, window_start from trip_windows
),

vehicle_limits as (
    select
        split_part(trim(item), '=', 1)::bigint as vid,
        split_part(trim(item), '=', 2)::double as limit_kmh
    from (select unnest(string_split($vehicle_speed_limits, ',')) as item)
    where trim(item) <> ''
),

window_records as (
    select
        r.vid, r.uid, r.tmx, r.lat, r.lon, r.speed_kmh, r.driver_card,
        coalesce(l.limit_kmh, $speed_limit_kmh) as limit_kmh
    from core.records as r
    join windows as w on r.vid = w.vid and r.tmx >= w.window_start
    left join vehicle_limits as l on r.vid = l.vid
    where r.tmx >= $earliest_window_start  -- lets DuckDB skip older row groups
      and r.speed_kmh is not null
),

steps as (
    select
        *,
        speed_kmh > limit_kmh as is_above,
        lag(speed_kmh > limit_kmh) over by_time as previous_is_above,
        epoch(tmx) - epoch(lag(tmx) over by_time) as step_s,
        lead(tmx) over by_time as next_tmx,
        lead(lat) over by_time as next_lat,
        lead(lon) over by_time as next_lon,
        lead(speed_kmh > limit_kmh) over by_time as next_is_above,
        epoch(lead(tmx) over by_time) - epoch(tmx) as next_step_s,
        haversine_m(lat, lon, lead(lat) over by_time, lead(lon) over by_time) as next_step_m
    from window_records
    window by_time as (partition by vid order by tmx)
),

-- an episode starts at a record above the limit after one at or under it, or after a gap
numbered as (
    select
        *,
        sum((not coalesce(previous_is_above, false) or step_s > $max_gap_s)::int)
            over (partition by vid order by tmx rows unbounded preceding) as episode_number
    from steps
    where is_above
),

episodes as (
    select
        vid,
        episode_number,
        any_value(uid order by tmx) as uid,
        min(tmx) as start_time,
        count(*) as n_records,
        max(speed_kmh) as max_speed_kmh,
        round(avg(speed_kmh), 3) as avg_speed_kmh,
        any_value(limit_kmh) as limit_kmh,
        first(lat order by tmx) as start_lat,
        first(lon order by tmx) as start_lon,
        first(driver_card order by tmx) filter (where driver_card is not null)
            as records_driver_card,
        max(tmx) as last_above_tmx,
        -- how the episode ends: at the record after its last one, unless a gap or no data
        max_by(
            case
                when next_tmx is null then 'data_end'
                when next_step_s > $max_gap_s then 'gap'
                else 'under_limit'
            end, tmx) as end_reason,
        max_by(next_tmx, tmx) as next_tmx,
        -- the steps inside the episode, and the one to the record back under the limit
        coalesce(sum(next_step_m) filter (where next_is_above and next_step_s <= $max_gap_s),
                 0) as inner_m,
        max_by(next_step_m, tmx) as closing_step_m
    from numbered
    group by vid, episode_number
),

trips_in_window as (
    select t.vid, t.trip_id, t.start_time, t.end_time, t.driver_card
    from marts.trips as t
    join windows as w on t.vid = w.vid and t.end_time >= w.window_start
    where t.end_time >= $earliest_window_start
),

final as (
    select
        surrogate_key(e.vid, epoch_us(e.start_time)) as episode_id,
        e.vid,
        e.uid,
        t.trip_id,
        coalesce(t.driver_card, e.records_driver_card) as driver_card,
        e.start_time,
        case when e.end_reason = 'under_limit' then e.next_tmx else e.last_above_tmx end
            as end_time,
        epoch(case when e.end_reason = 'under_limit' then e.next_tmx else e.last_above_tmx end)
            - epoch(e.start_time) as duration_s,
        e.max_speed_kmh,
        e.avg_speed_kmh,
        round((e.inner_m + case when e.end_reason = 'under_limit'
                                then coalesce(e.closing_step_m, 0) else 0 end) / 1000, 6)
            as distance_km,
        e.limit_kmh,
        e.start_lat,
        e.start_lon,
        e.n_records,
        e.end_reason
    from episodes as e
    left join trips_in_window as t
        on t.vid = e.vid and e.start_time between t.start_time and t.end_time
)

select * from final
