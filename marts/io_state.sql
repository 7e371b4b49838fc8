-- marts.io_state: one row per input (uid, io): its value now, since when, its first value.
--
-- The value now is the to_value of the input's last change in marts.io_changes, or its
-- first value when it never changed. first_seen and first_value come from its first
-- change (from_value began at previous_changed_at), or, for an input that never changed,
-- from its first reading (meta.io_first_readings). last_read_at is its latest reading, a change or not.
--
-- Recomputed whole for every (uid, io) of io_windows (after io_changes was): the window
-- holds the input's newest readings, so last_read_at and the latest vid are among them.
-- Parameters: $earliest_io_window_start (the minimum of io_windows.window_start).

with

windows as (
    select uid, io, window_start from io_windows
),

change_history as (
    select
        c.uid, c.io,
        count(*) as changes,
        first(c.from_value order by c.changed_at, c.source, c.to_value) as first_value,
        first(c.previous_changed_at order by c.changed_at, c.source, c.to_value)
            as first_seen,
        last(c.to_value order by c.changed_at, c.source, c.to_value) as value,
        max(c.changed_at) as since,
        last(c.vid order by c.changed_at, c.source, c.to_value) as vid
    from marts.io_changes as c
    join windows as w using (uid, io)
    group by c.uid, c.io
),

observations_in_window as (
    select o.uid, o.io, max(o.tmx) as last_read_at,
           arg_max(o.vid, o.tmx) filter (where o.vid is not null) as vid
    from (
        select uid, vid, io, tmx from core.record_io
        where value is not null and tmx >= $earliest_io_window_start
        union all
        select uid, vid, io, tmx from core.io_events
        where level is not null and tmx >= $earliest_io_window_start
        union all
        select uid, null, io, tmx from core.io_snapshots
        where level is not null and tmx >= $earliest_io_window_start
    ) as o
    join windows as w on o.uid = w.uid and o.io = w.io and o.tmx >= w.window_start
    group by o.uid, o.io
),

-- an input that never changed: its first reading (all its readings repeat it)
never_changed_first as (
    select
        f.uid, f.io,
        f.first_seen,
        f.first_value,
        f.first_known_vid as vid
    from meta.io_first_readings as f
    join (select uid, io from windows anti join change_history using (uid, io)) as w
        on f.uid = w.uid and f.io = w.io
),

final as (
    select
        coalesce(r.vid, c.vid, n.vid) as vid,
        r.uid,
        r.io,
        coalesce(c.value, n.first_value) as value,
        coalesce(c.since, n.first_seen) as since,
        coalesce(c.first_seen, n.first_seen) as first_seen,
        coalesce(c.first_value, n.first_value) as first_value,
        r.last_read_at,
        coalesce(c.changes, 0) as changes
    from observations_in_window as r
    left join change_history as c using (uid, io)
    left join never_changed_first as n using (uid, io)
)

select * from final
