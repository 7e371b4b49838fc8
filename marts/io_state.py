"""marts.io_state: one row per input of a unit: its value now, since when, and its first."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Reconciliation, RowCheck, Scope, read_sql

MART = Mart(
    name="io_state",
    grain="input (io) of a unit (uid), with its vehicle (one unit per vehicle: vid x io)",
    columns=(
        MartColumn("vid", "bigint", description="the vehicle of the unit (latest seen)"),
        MartColumn("uid", "bigint", False),
        MartColumn("io", "integer", False),
        MartColumn("value", "double", False, "the input's value now (its latest reading)"),
        MartColumn("since", "timestamptz", False, "when it took that value: its last change, "
                   "or first_seen when it never changed"),
        MartColumn("first_seen", "timestamptz", False, "the first reading of the input"),
        MartColumn("first_value", "double", False, "the value read at first_seen (the "
                   "history marts.io_changes continues from)"),
        MartColumn("last_read_at", "timestamptz", False, "the latest reading (a change or "
                   "not)"),
        MartColumn("changes", "bigint", False, "rows of marts.io_changes of this input", ge=0),
    ),
    sql=read_sql(__file__),
    scope=Scope(
        windows="io_windows",
        delete="""
            delete from marts.io_state as s using io_windows as w
            where s.uid = w.uid and s.io = w.io
        """,
        touched_since="select min(window_start) from io_windows",
        touched_rows="last_read_at >= $since",
    ),
    reads=("core.record_io", "core.io_events", "core.io_snapshots", "marts.io_changes",
           "meta.io_first_readings"),
    row_checks=(
        RowCheck("seen_in_order", "first_seen <= since and since <= last_read_at"),
        RowCheck("never_changed_keeps_its_first_value",
                 "changes > 0 or (value = first_value and since = first_seen)"),
    ),
    reconciliations=(
        Reconciliation("io_state agrees with the last change of io_changes", """
            with last_changes as (
                select uid, io, count(*) as changes,
                       last(to_value order by changed_at, source, to_value) as value,
                       max(changed_at) as since
                from marts.io_changes
                group by uid, io
            )
            select s.uid, s.io, s.value, s.since, s.changes, c.value as change_value,
                   c.since as change_since, c.changes as change_rows
            from marts.io_state as s
            left join last_changes as c using (uid, io)
            where s.last_read_at >= $since
              and (s.changes <> coalesce(c.changes, 0)
                   or (c.changes > 0 and (s.value <> c.value or s.since <> c.since)))
        """),
    ),
)
