"""marts.event_latency: one row per inbound event, driver message and form, with delays."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Reconciliation, Scope, read_sql

MART = Mart(
    name="event_latency",
    grain="inbound event, driver message or form",
    columns=(
        MartColumn("kind", "varchar", False,
                   isin=("event", "io_event", "driver_message", "form")),
        MartColumn("source_id", "varchar", False),
        MartColumn("uid", "bigint"),
        MartColumn("vid", "bigint"),
        MartColumn("tmx", "timestamptz", False),
        MartColumn("rmx", "timestamptz"),
        MartColumn("received_at", "timestamptz", False),
        MartColumn("device_to_server_s", "double"),
        MartColumn("server_to_pipeline_s", "double", description="compares two clocks: may "
                   "be negative"),
    ),
    sql=read_sql(__file__),
    sorted_by="received_at",
    # a projection of the new core rows: those rows are replaced
    scope=Scope(
        delete="""
            delete from marts.event_latency as e using (
                select kind, source_id from ({sql})
            ) as n
            where e.kind = n.kind and e.source_id = n.source_id
              -- a stored copy of a new row was received after it (the first received
              -- wins in core), so only the files from $touched_since on are read
              and e.received_at >= $touched_since
        """,
        touched_since="select min(received_at) from ({sql})",
        touched_rows="received_at >= $since",
    ),
    reads=("core.events", "core.driver_messages", "core.forms"),
    reconciliations=(
        Reconciliation("every inbound event, message and form is in event_latency", """
            with expected as (
                select count(*) as n from (
                    select received_at from core.events
                    union all select received_at from core.driver_messages
                    union all select received_at from core.forms
                ) where received_at >= $since
            ),
            present as (
                select count(*) as n from marts.event_latency where received_at >= $since
            )
            select e.n as expected, p.n as present from expected as e, present as p
            where e.n <> p.n
        """),
    ),
)
