-- Example queries for analysts: open the published warehouse read-only
--     duckdb -readonly data/warehouse.duckdb
-- and paste any of these. tests/warehouse/test_warehouse_example_queries.py runs every
-- statement of this file against a warehouse built from simulated data, so they stay right.

-- 1. Distance, driving time and trips per vehicle and local day
select vid, day, trips, round(distance_km, 1) as km,
       round(driving_s / 3600, 2) as driving_h, round(idle_s / 60) as idle_min,
       max_speed_kmh
from marts.vehicle_daily
order by day desc, km desc;

-- 2. The ten longest trips, how they were detected and measured
select trip_id, vid, start_time, end_time, round(distance_km, 2) as km, distance_source,
       detection, flags
from marts.trips
order by distance_km desc
limit 10;

-- 3. Trips still in progress (completed by a later build)
select vid, start_time, round(distance_km, 2) as km_so_far, end_reason
from marts.trips
where is_open
order by start_time;

-- 4. Where vehicles stood longest, and how long the engine idled there
select vid, start_time, round(duration_s / 60) as minutes, round(idle_s / 60) as idle_min,
       round(lat, 5) as lat, round(lon, 5) as lon
from marts.stops
order by duration_s desc
limit 10;

-- 5. How fast drivers get and read our messages
select count(*) as messages,
       count(delivered_at) as delivered,
       count(read_at) as read,
       median(seconds_to_delivered) as median_s_to_delivered,
       quantile_cont(seconds_to_read, 0.9) as p90_s_to_read
from marts.message_latency
where sent_at is not null;

-- 6. Each message's journey, status by status
select message_id, uid, sent_at, not_processed_at, processed_at, pending_at, delivered_at,
       read_at, error_at, final_status
from marts.message_latency
order by sent_at;

-- 7. Ignition (I/O 1) on and off, with how long each state lasted
select vid, changed_at, from_value, to_value, seconds_in_previous_state, source
from marts.io_changes
where io = 1
order by vid, changed_at;

-- 8. Delays from device to server and server to pipeline, per kind of event
select kind, count(*) as events,
       round(median(device_to_server_s), 1) as median_device_to_server_s,
       round(median(server_to_pipeline_s), 1) as median_server_to_pipeline_s
from marts.event_latency
group by kind
order by kind;

-- 9. A trip's route, from the core records it was built from
select r.tmx, r.lat, r.lon, r.speed_kmh, r.odometer
from core.records as r
join (select vid, start_time, end_time from marts.trips
      order by distance_km desc limit 1) as t
    on r.vid = t.vid and r.tmx between t.start_time and t.end_time
order by r.tmx;

-- 10. How fresh is this warehouse?
select published_at, load_id,
       (select max(received_at) from core.records) as newest_record_received
from meta.publication;
