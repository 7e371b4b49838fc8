-- DESIGN's core.commands: each command this pipeline sent, with the server's answer.
-- The core lake holds one row per outbound frame (status 'sent'); the replies live in
-- core.command_replies (cmd-status, cmd-parsed) and core.message_status (msg-sts).
-- Recomputed for the units touched by load $load_id.
with

touched_units as (
    select uid from core.commands where _load_id = $load_id
    union select uid from core.command_replies where _load_id = $load_id
    union select uid from core.message_status where _load_id = $load_id
),

sent as (
    select
        c.uid, c.command, c.sent_at, c.command_id,
        lead(c.sent_at) over (partition by c.uid, c.command order by c.sent_at) as next_sent_at
    from core.commands as c
    where c.uid in (select uid from touched_units)
),

-- a getio is answered by the first cmd-parsed getio of its unit before the next getio
getio_answers as (
    select s.uid, s.command, s.sent_at, min(r.received_at) as replied_at
    from sent as s
    join core.command_replies as r
        on r.uid = s.uid
        and r.reply_type = 'cmd-parsed'
        and r.received_at >= s.sent_at
        and (s.next_sent_at is null or r.received_at < s.next_sent_at)
    where s.command = 'getio'
    group by all
),

-- cmd-status echoes the api query id: accepted (true) or rejected (false)
status_answers as (
    select
        s.uid, s.command, s.sent_at,
        min(r.received_at) as replied_at,
        bool_and(r.status) as accepted
    from sent as s
    join core.command_replies as r
        on r.uid = s.uid and r.reply_type = 'cmd-status' and r.command_id = s.command_id
    group by all
),

-- msg-sts txs 0 echoes the guid of a driver message
message_answers as (
    select s.uid, s.command, s.sent_at, min(m.received_at) as replied_at
    from sent as s
    join core.message_status as m on m.guid = s.command_id
    where s.command = 'msg'
    group by all
),

final as (
    select
        s.uid, s.command, s.sent_at,
        case
            when g.replied_at is not null then 'replied'
            when m.replied_at is not null then 'accepted'
            when a.accepted then 'accepted'
            when a.accepted = false then 'rejected'
            else 'sent'
        end as status,
        coalesce(g.replied_at, m.replied_at, a.replied_at) as replied_at
    from sent as s
    left join getio_answers as g using (uid, command, sent_at)
    left join status_answers as a using (uid, command, sent_at)
    left join message_answers as m using (uid, command, sent_at)
)

select * from final
