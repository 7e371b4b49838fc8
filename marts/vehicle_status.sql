-- marts.vehicle_status: one row per vehicle: where it is and what it does now.
--
-- "Now" is as_of, the latest device time in the warehouse (the newest tmx of
-- core.records, not the wall clock, so a replay or a backfill reads the same). Position,
-- speed, heading, driver card, fuel level and engine hours are those of the vehicle's last
-- record. state: 'silent' when that record is more than silent_after_s before as_of; else
-- 'moving' (speed > min_speed_kmh), 'idle' (ignition on at <= min_speed_kmh) or 'stopped'.
-- ignition is the value now of the ignition input (marts.io_state) when it was read at most
-- max_gap_s before the last record (as the trip rules trust it), else NULL. current_trip_id
-- is the vehicle's open trip.
--
-- Every row is recomputed on every build: as_of moves all of them. The last record of each
-- vehicle is found through vehicle_daily (its last day), so only those days are read.
-- Parameters: $ignition_io, $min_speed_kmh, $max_gap_s, $silent_after_s.

with

as_of as (
    select max(tmx) as as_of from core.records
),

last_seen as (
    select vid, max(last_seen) as last_seen
    from marts.vehicle_daily
    group by vid
),

last_records as (
    select r.*
    from core.records as r
    join last_seen as l on r.vid = l.vid and r.tmx = l.last_seen
    where r.tmx >= (select min(last_seen) from last_seen)
),

ignition as (
    select uid, value, last_read_at
    from marts.io_state
    where io = $ignition_io
),

open_trips as (
    select vid, max_by(trip_id, start_time) as trip_id
    from marts.trips
    where is_open
    group by vid
),

statuses as (
    select
        r.vid,
        r.uid,
        a.as_of,
        r.tmx as last_seen,
        r.received_at as last_received_at,
        r.lat,
        r.lon,
        r.speed_kmh,
        r.heading,
        case when epoch(r.tmx) - epoch(i.last_read_at) <= $max_gap_s then i.value > 0 end
            as ignition,
        r.driver_card,
        epoch(a.as_of) - epoch(r.tmx) as silent_s,
        o.trip_id as current_trip_id,
        r.fuel_level,
        r.engine_hours,
        r.odometer as odometer_m
    from last_records as r
    cross join as_of as a
    left join ignition as i on i.uid = r.uid
    left join open_trips as o on o.vid = r.vid
),

final as (
    select
        vid, uid, as_of, last_seen, last_received_at, lat, lon, speed_kmh, heading, ignition,
        driver_card,
        case
            when silent_s > $silent_after_s then 'silent'
            when speed_kmh > $min_speed_kmh then 'moving'
            when ignition then 'idle'
            else 'stopped'
        end as state,
        silent_s,
        current_trip_id,
        fuel_level,
        engine_hours,
        odometer_m
    from statuses
)

select * from final
