"""marts.io_changes: one row per change of an input's value (merged from three streams)."""

from __future__ import annotations

from marts.model import Mart, MartColumn, RowCheck, Scope, read_sql

MART = Mart(
    name="io_changes",
    grain="change of the value of one input (uid, io)",
    columns=(
        MartColumn("vid", "bigint"),
        MartColumn("uid", "bigint", False),
        MartColumn("io", "integer", False),
        MartColumn("changed_at", "timestamptz", False),
        MartColumn("from_value", "double", False, "the value before the change (the first "
                   "value ever seen of an input is marts.io_state.first_value, not a change)"),
        MartColumn("to_value", "double", False),
        MartColumn("previous_changed_at", "timestamptz", False, "when from_value began: the "
                   "previous change, or the first observation of the input"),
        MartColumn("seconds_in_previous_state", "double", False, ge=0),
        MartColumn("source", "varchar", False, isin=("record_io", "io_event", "io_snapshot")),
    ),
    sql=read_sql(__file__),
    sorted_by="changed_at",
    scope=Scope(
        windows="io_windows",
        delete="""
            delete from marts.io_changes as c using io_windows as w
            where c.uid = w.uid and c.io = w.io and c.changed_at >= w.window_start
        """,
        touched_since="select min(window_start) from io_windows",
        touched_rows="changed_at >= $since",
    ),
    # its own rows too: a window continues from the last change stored before it
    reads=("core.record_io", "core.io_events", "core.io_snapshots", "marts.io_changes",
           "meta.io_first_readings"),
    row_checks=(
        RowCheck("a_change_changes_the_value", "from_value <> to_value"),
        RowCheck("after_the_previous_state_began", "changed_at >= previous_changed_at"),
    ),
)
