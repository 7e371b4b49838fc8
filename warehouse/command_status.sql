-- core.commands: each command this pipeline sent, with the server's answer.
-- core.commands holds one row per outbound frame (status 'sent'); the replies live in
-- core.command_replies (cmd-status, cmd-parsed) and core.message_status (msg-sts).
-- A server may also refuse a command by closing the socket right after it (1009 message
-- too big, 1007 invalid payload, 1008 policy violation; core.connection_closes).
-- Recomputed for the commands whose answer the loads after $since_load_id may change: new
-- commands, the command sent before a new one (its getio window ends there), commands a
-- new reply or message status answers, and commands on connections a server closed with
-- a refusing code; the others keep their status (their inputs are unchanged).
with

touched_units as (
    select uid from core.commands where _load_id > $since_load_id
    union select uid from core.command_replies where _load_id > $since_load_id
    union select uid from core.message_status where _load_id > $since_load_id
    union select c.uid from core.commands as c
        join core.connection_closes as x using (connection_id)
        where x._load_id > $since_load_id
),

new_replies as (
    select uid, reply_type, command_id, received_at from core.command_replies
    where _load_id > $since_load_id
),

refused_connections as (
    select connection_id from core.connection_closes where code in (1007, 1008, 1009)
),

ordered as (
    select
        c.uid, c.command, c.sent_at, c.command_id, c.connection_id, c._load_id,
        lead(c.sent_at) over next_command as next_sent_at,
        lead(c._load_id) over next_command as next_load_id
    from core.commands as c
    where c.uid in (select uid from touched_units)
    window next_command as (partition by c.uid, c.command order by c.sent_at)
),

sent as (
    select s.uid, s.command, s.sent_at, s.command_id, s.next_sent_at
    from ordered as s
    where s._load_id > $since_load_id
       or s.next_load_id > $since_load_id
       or s.command_id in (select command_id from new_replies where reply_type = 'cmd-status')
       or (s.command = 'msg' and s.command_id in (
               select guid from core.message_status where _load_id > $since_load_id))
       or s.connection_id in (select connection_id from refused_connections)
       or (s.command = 'getio' and exists (
               select 1 from new_replies as r
               where r.uid = s.uid and r.reply_type = 'cmd-parsed'
                 and r.received_at >= s.sent_at
                 and (s.next_sent_at is null or r.received_at < s.next_sent_at)))
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

-- the last command sent on a connection that the server then closed with a refusing
-- code, at most 10 s later (seq orders the frames of one connection)
last_before_close as (
    select x.connection_id, x.received_at as closed_at, max(c.seq) as seq
    from core.connection_closes as x
    join core.commands as c on c.connection_id = x.connection_id and c.seq < x.seq
    where x.code in (1007, 1008, 1009)
    group by all
),

closed_after as (
    select c.uid, c.command, c.sent_at, l.closed_at
    from last_before_close as l
    join core.commands as c on c.connection_id = l.connection_id and c.seq = l.seq
    where epoch(l.closed_at) - epoch(c.sent_at) <= 10
),

final as (
    select
        s.uid, s.command, s.sent_at,
        case
            when g.replied_at is not null then 'replied'
            when m.replied_at is not null then 'accepted'
            when a.accepted then 'accepted'
            when a.accepted = false then 'rejected'
            when x.closed_at is not null then 'rejected'
            else 'sent'
        end as status,
        coalesce(g.replied_at, m.replied_at, a.replied_at, x.closed_at) as replied_at
    from sent as s
    left join getio_answers as g using (uid, command, sent_at)
    left join status_answers as a using (uid, command, sent_at)
    left join message_answers as m using (uid, command, sent_at)
    left join closed_after as x using (uid, command, sent_at)
)

select * from final
