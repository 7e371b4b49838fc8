-- marts.io_changes: one row per change of an input's value.
--
-- Inputs are merged from three sources: the io map of each record (core.record_io), the
-- device's I/O events (core.io_events, one row per event id, so a duplicated event counts
-- once) and getio snapshots (core.io_snapshots). Repeating the same value is not a change,
-- and neither is the first value ever seen of an input (marts.io_state.first_value): every
-- row has a from_value. previous_changed_at is when from_value began: the previous change,
-- or the first observation of the input.
--
-- $earliest_io_window_start (the minimum of io_windows.window_start) lets DuckDB skip old
-- row groups. Recomputed per (uid, io) from io_windows.window_start on, continuing from the
-- last change stored before it, or, when none is, from the input's first reading
-- (meta.io_first_readings, brought up to date before the marts), so building hour by hour
-- gives the rows of one build over everything.

with

windows as (
    select uid, io, window_start from io_windows
),

observations as (
    select r.uid, r.vid, r.io, r.tmx, r.value, 'record_io' as source
    from core.record_io as r
    join windows as w on r.uid = w.uid and r.io = w.io and r.tmx >= w.window_start
    where r.value is not null and r.tmx >= $earliest_io_window_start

    union all

    select e.uid, e.vid, e.io, e.tmx, e.level as value, 'io_event' as source
    from core.io_events as e
    join windows as w on e.uid = w.uid and e.io = w.io and e.tmx >= w.window_start
    where e.level is not null and e.tmx >= $earliest_io_window_start

    union all

    select s.uid, null as vid, s.io, s.tmx, s.level as value, 'io_snapshot' as source
    from core.io_snapshots as s
    join windows as w on s.uid = w.uid and s.io = w.io and s.tmx >= w.window_start
    where s.level is not null and s.tmx >= $earliest_io_window_start
),

-- the state each recomputation continues from: the last change stored before its window
state_before_window as (
    select
        c.uid, c.io,
        max_by(c.vid, c.changed_at) as vid,
        max(c.changed_at) as tmx,
        max_by(c.to_value, c.changed_at) as value
    from marts.io_changes as c
    join windows as w on c.uid = w.uid and c.io = w.io and c.changed_at < w.window_start
    group by c.uid, c.io
),

-- no change stored before the window: the value the input had until then is its first,
-- seen at its first reading (meta.io_first_readings; later readings all repeat it)
first_observation_before_window as (
    select f.uid, f.io, f.first_vid as vid, f.first_seen as tmx, f.first_value as value
    from meta.io_first_readings as f
    join windows as w
        on f.uid = w.uid and f.io = w.io and f.first_seen < w.window_start
    anti join state_before_window as s on s.uid = f.uid and s.io = f.io
),

timeline as (
    select uid, vid, io, tmx, value, 'state_before_window' as source, 0 as ordinal
    from state_before_window
    union all
    select uid, vid, io, tmx, value, 'state_before_window' as source, 0 as ordinal
    from first_observation_before_window
    union all
    select uid, vid, io, tmx, value, source, 1 as ordinal
    from observations
),

timeline_with_previous as (
    select
        *,
        lag(value) over by_time as previous_value,
        coalesce(
            vid,
            last_value(vid ignore nulls) over before,
            first_value(vid ignore nulls) over after
        ) as known_vid
    from timeline
    window
        by_time as (partition by uid, io order by tmx, ordinal, source, value),
        before as (partition by uid, io order by tmx, ordinal, source, value
                   rows between unbounded preceding and 1 preceding),
        after as (partition by uid, io order by tmx, ordinal, source, value
                  rows between 1 following and unbounded following)
),

-- repeats of the same value are not changes (the stored state is kept as the anchor), and
-- the first value seen is not one either (it opens the history, as the anchor does)
changes as (
    select *, row_number() over by_time = 1 as opens_history
    from timeline_with_previous
    where ordinal = 0 or value is distinct from previous_value
    window by_time as (partition by uid, io order by tmx, ordinal, source, value)
),

changes_with_previous as (
    select
        *,
        lag(tmx) over (partition by uid, io order by tmx, ordinal, source, value)
            as previous_changed_at
    from changes
),

final as (
    select
        known_vid as vid,
        uid,
        io,
        tmx as changed_at,
        previous_value as from_value,
        value as to_value,
        previous_changed_at,
        epoch(tmx) - epoch(previous_changed_at) as seconds_in_previous_state,
        source
    from changes_with_previous
    where ordinal = 1 and not opens_history
)

select * from final
