-- marts.message_latency: one row per message sent to a driver, with the time of each
-- delivery status (msg-sts txs) and the seconds from sending to delivered and to read.
--
-- Our outbound pnd-api frame carries a guid we generate (core.commands.command_id); the
-- server answers with msg-sts txs 0 echoing the content, guid included, which links the
-- guid to the server's message id. Statuses of messages sent by someone else (no outbound
-- frame of ours) still get a row, with sent_at NULL, so every status in core is here.
-- A message the server refused by closing the socket right after it (core.commands status
-- 'rejected', see warehouse/command_status.sql) and that got no status is 'rejected', with
-- error_at the time of the close.
--
-- Recomputed for the messages in message_windows (message ids and guids with new data,
-- and the ids and guids linked to them): each input is read for those only.

with

touched_message_ids as (
    select distinct message_id from message_windows where message_id is not null
),

touched_guids as (
    select distinct guid from message_windows where guid is not null
),

outbound as (
    select
        uid, command_id as guid, sent_at, text,
        case when status = 'rejected' then replied_at end as rejected_at
    from core.commands
    where command = 'msg' and command_id in (select guid from touched_guids)
),

-- msg-sts txs 0 echoes our guid: guid → the server's message id
guid_links as (
    select guid, min_by(message_id, received_at) as message_id
    from core.message_status
    where txs = 0 and guid in (select guid from touched_guids)
    group by guid
),

status_times as (
    select
        message_id,
        min(uid) as uid,
        min(received_at) filter (where txs = 0) as not_processed_at,
        min(received_at) filter (where txs = 1) as processed_at,
        min(received_at) filter (where txs = 2) as error_at,
        min(received_at) filter (where txs = 3) as pending_at,
        min(received_at) filter (where txs = 4) as delivered_at,
        min(received_at) filter (where txs = 5) as read_at,
        -- the latest status received (read outranks delivered at the same instant)
        max_by(status, (received_at, txs)) as latest_status
    from core.message_status
    where message_id in (select message_id from touched_message_ids)
       or message_id in (select message_id from guid_links)
    group by message_id
),

messages as (
    select
        coalesce(l.message_id, s.message_id) as message_id,
        o.guid,
        coalesce(o.uid, s.uid) as uid,
        o.sent_at,
        o.rejected_at,
        o.text
    from outbound as o
    left join guid_links as l using (guid)
    full outer join status_times as s on s.message_id = l.message_id
),

touched_messages as (
    select *
    from messages
    where message_id in (select message_id from touched_message_ids)
       or guid in (select guid from touched_guids)
),

final as (
    select
        m.message_id,
        m.guid,
        m.uid,
        m.sent_at,
        s.not_processed_at,
        s.processed_at,
        s.pending_at,
        s.delivered_at,
        s.read_at,
        coalesce(s.error_at, m.rejected_at) as error_at,
        epoch(s.delivered_at) - epoch(m.sent_at) as seconds_to_delivered,
        epoch(s.read_at) - epoch(m.sent_at) as seconds_to_read,
        coalesce(s.latest_status, case when m.rejected_at is not null then 'rejected' end,
                 'sent') as final_status,
        m.text
    from touched_messages as m
    left join status_times as s using (message_id)
)

select * from final
