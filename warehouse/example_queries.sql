-- Example queries for analysts: open the warehouse read-only, in DuckDB
--     ATTACH 'ducklake:sqlite:data/warehouse/catalog.sqlite' AS warehouse (READ_ONLY);
--     USE warehouse;
-- and paste any of these. tests/warehouse/test_warehouse_example_queries.py runs every
-- statement of this file, and README.md's, against a warehouse built from simulated data,
-- so they stay right.

-- The ten questions a fleet manager asks every day (the same queries as README.md's).

-- 1. distance and driving time per vehicle and local day
select day, vid, trips, round(distance_km, 1) as km, round(driving_s / 3600, 2) as driving_h
from marts.vehicle_daily order by day desc, km desc;
-- 2. idle time (ignition on, standing still) per vehicle and day; NULL: no ignition input
select day, vid, round(idle_s / 60) as idle_min from marts.vehicle_daily
where idle_s is not null order by day desc, idle_min desc;
-- 3. the ten longest stops and where (named or discovered place, else coordinates)
select s.vid, s.start_time, round(s.duration_s / 60) as minutes,
       coalesce(v.place, printf('%.4f, %.4f', s.lat, s.lon)) as place
from marts.stops as s
left join marts.place_visits as v on v.vid = s.vid and v.arrived_at = s.start_time
order by s.duration_s desc limit 10;
-- 4. trips per driver card and day
select day, driver_card, vehicles, trips, round(distance_km, 1) as km
from marts.driver_daily order by day desc, trips desc;
-- 5. speeding: episodes above the limit per vehicle and driver
select vid, driver_card, count(*) as episodes, max(max_speed_kmh) as top_kmh,
       round(sum(duration_s) / 60, 1) as minutes_above
from marts.overspeed group by all order by episodes desc;
-- 6. last known position and state (moving, idle, stopped, silent) of every vehicle
select vid, state, last_seen, lat, lon, speed_kmh, driver_card
from marts.vehicle_status order by vid;
-- 7. night driving: trip hours between 22:00 and 06:00 in the build's time zone
with nights as (
    select timezone(value, d + interval 22 hour) as n0,
           timezone(value, d + interval 30 hour) as n1
    from meta.build_settings, range((select min(start_time)::date - 1 from marts.trips),
                                    (select max(end_time)::date + 1 from marts.trips),
                                    interval 1 day) as r(d)
    where key = 'timezone')
select vid, driver_card, count(distinct trip_id) as night_trips,
       round(sum(epoch(least(end_time, n1) - greatest(start_time, n0))) / 3600, 2) as night_h
from marts.trips join nights on start_time < n1 and end_time > n0
group by all order by night_h desc;
-- 8. message latency per driver (the card of the vehicle's last trip started before sending)
select t.driver_card, count(*) as messages, median(m.seconds_to_read) as median_s_to_read
from marts.message_latency as m
asof left join marts.trips as t on t.uid = m.uid and m.sent_at >= t.start_time
group by all order by median_s_to_read desc;
-- 9. vehicles gone silent: over silent_after_s (1 h) without a position record, or silent now
select vid, tmx - gap as silent_from, tmx as back_at from (
    select vid, tmx, tmx - lag(tmx) over (partition by vid order by tmx) as gap
    from core.records where source = 'records') where gap > interval 1 hour
union all select vid, last_seen, null from marts.vehicle_status where state = 'silent';
-- 10. where trips start and end: places of marts.place_visits, else a ~1 km grid cell
select coalesce(v.place, printf('~%.2f, %.2f', t.start_lat, t.start_lon)) as start_place,
       coalesce(w.place, printf('~%.2f, %.2f', t.end_lat, t.end_lon)) as end_place,
       count(*) as trips, round(median(haversine_m(t.start_lat, t.start_lon, t.end_lat,
                                                   t.end_lon)) / 1000, 1) as straight_km
from marts.trips as t left join marts.place_visits as v on v.trip_id_out = t.trip_id
left join marts.place_visits as w on w.trip_id_in = t.trip_id
where not t.is_open group by all order by trips desc;

-- More: trips, messages, inputs and delays in detail.

-- 11. The ten longest trips, how they were detected and measured
select trip_id, vid, start_time, end_time, round(distance_km, 2) as km, distance_source,
       detection, flags
from marts.trips
order by distance_km desc
limit 10;

-- 12. Trips still in progress (completed by a later build)
select vid, start_time, round(distance_km, 2) as km_so_far, end_reason
from marts.trips
where is_open
order by start_time;

-- 13. How fast drivers get and read our messages
select count(*) as messages,
       count(delivered_at) as delivered,
       count(read_at) as read,
       median(seconds_to_delivered) as median_s_to_delivered,
       quantile_cont(seconds_to_read, 0.9) as p90_s_to_read
from marts.message_latency
where sent_at is not null;

-- 14. Each message's journey, status by status
select message_id, uid, sent_at, not_processed_at, processed_at, pending_at, delivered_at,
       read_at, error_at, final_status
from marts.message_latency
order by sent_at;

-- 15. Ignition (I/O 1) on and off, with how long each state lasted
select vid, changed_at, from_value, to_value, seconds_in_previous_state, source
from marts.io_changes
where io = 1
order by vid, changed_at;

-- 16. Delays from device to server and server to pipeline, per kind of event
select kind, count(*) as events,
       round(median(device_to_server_s), 1) as median_device_to_server_s,
       round(median(server_to_pipeline_s), 1) as median_server_to_pipeline_s
from marts.event_latency
group by kind
order by kind;

-- 17. A trip's route, from the core records it was built from
select r.tmx, r.lat, r.lon, r.speed_kmh, r.odometer
from core.records as r
join (select vid, start_time, end_time from marts.trips
      order by distance_km desc limit 1) as t
    on r.vid = t.vid and r.tmx between t.start_time and t.end_time
order by r.tmx;

-- 18. How fresh is this warehouse?
select checked_at as built_at, build_id as built_up_to_load,
       (select max(received_at) from core.records) as newest_record_received
from meta.checks
where passed
order by checked_at desc
limit 1;
