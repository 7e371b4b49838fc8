"""marts.message_latency: one row per message to a driver, with the time of each status."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Reconciliation, RowCheck, Scope, read_sql
from protocol.messages import STATUS_LABELS

# Our own labels of a message the server never acknowledged, then the manual's.
STATUSES = ("sent", "rejected", *STATUS_LABELS)

MART = Mart(
    name="message_latency",
    grain="message sent to a driver (or status of a message sent by another client)",
    columns=(
        MartColumn("message_id", "varchar", description="NULL until the server acknowledged "
                   "our message"),
        MartColumn("guid", "varchar", description="our pnd-api guid; NULL: not sent by this "
                   "pipeline"),
        MartColumn("uid", "bigint"),
        MartColumn("sent_at", "timestamptz"),
        MartColumn("not_processed_at", "timestamptz", description="txs 0"),
        MartColumn("processed_at", "timestamptz", description="txs 1 (buffered)"),
        MartColumn("pending_at", "timestamptz", description="txs 3"),
        MartColumn("delivered_at", "timestamptz", description="txs 4"),
        MartColumn("read_at", "timestamptz", description="txs 5"),
        MartColumn("error_at", "timestamptz", description="txs 2"),
        MartColumn("seconds_to_delivered", "double"),
        MartColumn("seconds_to_read", "double"),
        MartColumn("final_status", "varchar", False,
                   "the latest status, or 'rejected' (the server closed the socket on it) / "
                   "'sent'",
                   isin=STATUSES),
        MartColumn("text", "varchar"),
    ),
    sql=read_sql(__file__),
    scope=Scope(
        windows="message_windows",
        delete="""
            delete from marts.message_latency
            where message_id in (select message_id from message_windows)
               or guid in (select guid from message_windows)
        """,
        touched_since=(
            "select min(received_at) from core.message_status where _load_id > $since_load_id"
        ),
        touched_rows="coalesce(sent_at, not_processed_at, processed_at, pending_at, "
                     "delivered_at, read_at, error_at) >= $since",
    ),
    reads=("core.message_status", "core.commands"),
    row_checks=(RowCheck("identified", "message_id is not null or guid is not null"),),
    reconciliations=(
        Reconciliation("every message status in core is in message_latency", """
            select s.message_id, s.status
            from core.message_status as s
            left join marts.message_latency as m using (message_id)
            where s.received_at >= $since
              and (m.message_id is null or case s.txs
                    when 0 then m.not_processed_at when 1 then m.processed_at
                    when 2 then m.error_at when 3 then m.pending_at
                    when 4 then m.delivered_at when 5 then m.read_at end is null)
        """),
    ),
)
