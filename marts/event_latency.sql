-- marts.event_latency: one row per inbound event, driver message and form, with the delay
-- from the device to the server (rmx - tmx) and from the server to this pipeline
-- (received_at - rmx), in seconds.
--
-- A pure projection of core rows: rows loaded after $since_load_id are (re)computed.

with

vehicle_events as (
    select
        case when sub_type = 'io' then 'io_event' else 'event' end as kind,
        event_id as source_id,
        uid, vid, tmx, rmx, received_at
    from core.events
    where _load_id > $since_load_id
),

driver_messages as (
    select
        'driver_message' as kind,
        surrogate_key(uid, epoch_us(tmx), eid) as source_id,
        uid, null::bigint as vid, tmx, rmx, received_at
    from core.driver_messages
    where _load_id > $since_load_id
),

forms as (
    select
        'form' as kind,
        form_id as source_id,
        uid, null::bigint as vid, tmx, rmx, received_at
    from core.forms
    where _load_id > $since_load_id
),

inbound as (
    select * from vehicle_events
    union all
    select * from driver_messages
    union all
    select * from forms
),

final as (
    select
        kind,
        source_id,
        uid,
        vid,
        tmx,
        rmx,
        received_at,
        epoch(rmx) - epoch(tmx) as device_to_server_s,
        epoch(received_at) - epoch(rmx) as server_to_pipeline_s
    from inbound
)

select * from final
