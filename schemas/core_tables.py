"""One declaration per core table: columns, types, nullability and key.

This is data that code reads (the dlt way): the transforms flatten frames into exactly
these columns, the pandera models in ``schemas.core_models`` are derived from it, and the
warehouse creates its ``core`` tables (DDL, keys) from it. Adding a field touches only
this file and the line of SQL that extracts it.

Types are DuckDB type names; ``ARROW_TYPES`` maps them to the Parquet/Arrow types of the
core lake. All times are UTC (``TIMESTAMPTZ``). Every table carries the lineage columns
``seq`` (the raw frame's seq) and, where a frame has fields nobody mapped yet, ``extra``
(a JSON object of them, NULL when there are none).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class Column:
    """One column of a core table."""

    name: str
    type: str
    nullable: bool = True
    description: str = ""


@dataclass(frozen=True)
class CoreTable:
    """A typed table of the core lake and of the warehouse's ``core`` schema."""

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str = ""
    source: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable) for c in self.columns]
        )

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, type_: str, nullable: bool = True, description: str = "") -> Column:
    return Column(name, type_, nullable, description)


_RECEIVED = _c("received_at", "TIMESTAMPTZ", False, "when ingest received the frame (UTC)")
_SEQ = _c("seq", "BIGINT", False, "seq of the raw frame this row came from")
_EXTRA = _c("extra", "VARCHAR", True, "JSON object of the frame's fields nobody mapped yet")
_POSITION = (
    _c("lat", "DOUBLE", True, "latitude, -90..90"),
    _c("lon", "DOUBLE", True, "longitude, -180..180"),
)
_EVENT_ENVELOPE = (
    _c("eid", "INTEGER", True, "event type id"),
    _c("mid", "BIGINT", True, "mid of the event"),
    _c("tmx", "TIMESTAMPTZ", False, "device time"),
    _c("rmx", "TIMESTAMPTZ", True, "server receive time"),
    _RECEIVED,
    *_POSITION,
    _c("sts", "INTEGER"),
    _c("frc", "VARCHAR", True, "reverse-geocoded place"),
    _c("src", "VARCHAR"),
)

RECORDS = CoreTable(
    name="records",
    key=("vid", "tmx"),
    source=("records.lastRecord", "event.record"),
    description="One GPS/telemetry record of a vehicle.",
    columns=(
        _c("uid", "BIGINT", True, "unit (device) id of the frame"),
        _c("vid", "BIGINT", False, "vehicle id"),
        _c("tmx", "TIMESTAMPTZ", False, "device time of the record"),
        _RECEIVED,
        _c("batch_total", "INTEGER", True, "records.total: records in the uploaded batch"),
        _c("source", "VARCHAR", False, "'records' or 'event'"),
        _c("record_id", "VARCHAR", True, "_id of an event's record"),
        _c("dmx", "INTEGER"),
        *_POSITION,
        _c("speed_kmh", "DOUBLE", True, "gsp, >= 0"),
        _c("heading", "DOUBLE", True, "hdg, 0..360"),
        _c("odometer", "BIGINT", True, "gkm in metres; -1 (unknown) is NULL"),
        _c("cas", "INTEGER"),
        _c("sat", "INTEGER", True, "exd.sat"),
        _c("alt", "DOUBLE", True, "exd.alt"),
        _c("bpp", "INTEGER", True, "exd.bpp"),
        _c("edt", "INTEGER", True, "exd.eco.edt"),
        _c("aat", "INTEGER", True, "exd.eco.aat"),
        _c("rpm", "INTEGER", True, "exd.eco.rpm"),
        _c("fuel_level", "DOUBLE", True, "exd.eco.flv"),
        _c("engine_hours", "DOUBLE", True, "exd.eco.ehr"),
        _c("driver_card", "VARCHAR", True, "exd.eco.dcl, leading zeros kept"),
        _EXTRA,
        _SEQ,
    ),
)

RECORD_IO = CoreTable(
    name="record_io",
    key=("vid", "tmx", "io"),
    source=("records.lastRecord.exd.io", "event.record.exd.io"),
    description="One I/O value of a record's exd.io map.",
    columns=(
        _c("vid", "BIGINT", False),
        _c("tmx", "TIMESTAMPTZ", False),
        _c("io", "INTEGER", False, "I/O number (the map's key)"),
        _c("value", "DOUBLE", True),
        _c("uid", "BIGINT"),
        _RECEIVED,
        _SEQ,
    ),
)

EVENTS = CoreTable(
    name="events",
    key=("event_id",),
    source=("event",),
    description="An event of a vehicle (sub-type io or event).",
    columns=(
        _c("event_id", "VARCHAR", False, "event._id"),
        _c("record_id", "VARCHAR", True, "event.hid: the record it belongs to"),
        _c("uid", "BIGINT"),
        _c("vid", "BIGINT", True, "record.vid"),
        _c("sub_type", "VARCHAR", False, "'io' or 'event'"),
        *_EVENT_ENVELOPE,
        _EXTRA,
        _SEQ,
    ),
)

IO_EVENTS = CoreTable(
    name="io_events",
    key=("event_id",),
    source=("event sub-type io",),
    description="An I/O change reported by the device (record.exd.tlm).",
    columns=(
        _c("event_id", "VARCHAR", False),
        _c("vid", "BIGINT", False),
        _c("uid", "BIGINT"),
        _c("tmx", "TIMESTAMPTZ", False),
        _c("io", "INTEGER", False, "tlm.tio"),
        _c("level", "DOUBLE", True, "tlm.tlv"),
        _RECEIVED,
        _SEQ,
    ),
)

CONNECTIONS = CoreTable(
    name="connections",
    key=("uid", "kind", "received_at"),
    source=("connection", "pnd-connection"),
    description="A device or driver app connecting (status 1) or disconnecting (0).",
    columns=(
        _c("uid", "BIGINT", False),
        _c("kind", "VARCHAR", False, "'device' or 'driver_app'"),
        _c("status", "INTEGER", True),
        _RECEIVED,
        _EXTRA,
        _SEQ,
    ),
)

DRIVER_MESSAGES = CoreTable(
    name="driver_messages",
    key=("uid", "tmx", "eid"),
    source=("pnd-msg", "pnd-msg-prd"),
    description="A text message sent by a driver (free text or predefined).",
    columns=(
        _c("uid", "BIGINT", False),
        _c("kind", "VARCHAR", False, "'free' or 'predefined'"),
        _c("text", "VARCHAR"),
        _c("predefined_id", "INTEGER", True, "pmi"),
        _c("record_id", "VARCHAR", True, "hid"),
        *_EVENT_ENVELOPE,
        _EXTRA,
        _SEQ,
    ),
)

FORMS = CoreTable(
    name="forms",
    key=("uid", "tmx", "eid"),
    source=("form",),
    description="A form filled in and sent by a driver.",
    columns=(
        _c("form_id", "VARCHAR", False, "deterministic: md5 of uid|tmx|eid"),
        _c("uid", "BIGINT", False),
        _c("form_name", "VARCHAR", True, "frm.fnm"),
        _c("record_id", "VARCHAR", True, "hid"),
        *_EVENT_ENVELOPE,
        _EXTRA,
        _SEQ,
    ),
)

FORM_FIELDS = CoreTable(
    name="form_fields",
    key=("form_id", "field"),
    source=("form.frm.fld",),
    description="One field of a form.",
    columns=(
        _c("form_id", "VARCHAR", False),
        _c("field", "VARCHAR", False),
        _c("value", "VARCHAR", True, "the value as text (JSON for non-strings)"),
        _c("uid", "BIGINT"),
        _c("tmx", "TIMESTAMPTZ"),
        _RECEIVED,
        _SEQ,
    ),
)

MESSAGE_STATUS = CoreTable(
    name="message_status",
    key=("message_id", "txs", "received_at"),
    source=("msg-sts",),
    description="A delivery status of a message sent to a driver.",
    columns=(
        _c("uid", "BIGINT"),
        _c("message_id", "VARCHAR", False, "params.id (the server's message id)"),
        _c("txs", "INTEGER", False, "0..5"),
        _c("status", "VARCHAR", False, "not_processed/buffered/error/pending/delivered/read"),
        _RECEIVED,
        _c("text", "VARCHAR", True, "content.content.txt (txs 0 only)"),
        _c("guid", "VARCHAR", True, "content.content.guid: links to our outbound command"),
        _EXTRA,
        _SEQ,
    ),
)

COMMANDS = CoreTable(
    name="commands",
    key=("uid", "command", "sent_at"),
    source=("outbound api / pnd-api frames", "cmd-status", "cmd-parsed"),
    description=(
        "A command this pipeline sent. In the core lake one row per outbound frame "
        "(status 'sent'); replies are in command_replies and the warehouse joins them."
    ),
    columns=(
        _c("uid", "BIGINT", False),
        _c("command", "VARCHAR", False, "'getio' or 'msg'"),
        _c("command_id", "VARCHAR", True, "api query.id or pnd-api guid"),
        _c("sent_at", "TIMESTAMPTZ", False),
        _c("status", "VARCHAR", True, "sent / accepted / rejected / replied"),
        _c("replied_at", "TIMESTAMPTZ", True),
        _c("text", "VARCHAR", True, "message text of a 'msg' command"),
        _c("connection_id", "VARCHAR", True, "the ingest connection it was sent on"),
        _SEQ,
    ),
)

CONNECTION_CLOSES = CoreTable(
    name="connection_closes",
    key=("connection_id",),
    source=("close frame received (raw frame 'close:<code> <reason>')",),
    description=(
        "The close frame the server ended one of ingest's connections with; a 1007, 1008 "
        "or 1009 right after a command is the server refusing that command."
    ),
    columns=(
        _c("connection_id", "VARCHAR", False, "the ingest connection that was closed"),
        _RECEIVED,
        _c("code", "INTEGER", False, "WebSocket close code (1000 normal, 1009 too big, ...)"),
        _c("reason", "VARCHAR", True, "close reason sent by the server"),
        _SEQ,
    ),
)

COMMAND_REPLIES = CoreTable(
    name="command_replies",
    key=("uid", "reply_type", "received_at"),
    source=("cmd-status", "cmd-parsed"),
    description="A reply of the server to a command (an extension of the core tables).",
    columns=(
        _c("uid", "BIGINT", False),
        _c("reply_type", "VARCHAR", False, "'cmd-status' or 'cmd-parsed'"),
        _c("command_id", "VARCHAR", True, "cmd-status id"),
        _c("command", "VARCHAR", True, "cmd-parsed sub-type (e.g. getio)"),
        _c("status", "BOOLEAN", True, "cmd-status status"),
        _RECEIVED,
        _EXTRA,
        _SEQ,
    ),
)

IO_SNAPSHOTS = CoreTable(
    name="io_snapshots",
    key=("uid", "io", "tmx"),
    source=("cmd-parsed getio",),
    description="One I/O of a device as reported by a getio query.",
    columns=(
        _c("uid", "BIGINT", False),
        _c("io", "INTEGER", False, "tio"),
        _c("level", "DOUBLE", True, "tlv"),
        _c("tmx", "TIMESTAMPTZ", False),
        _c("record_id", "VARCHAR", True, "hid"),
        _RECEIVED,
        _SEQ,
    ),
)

SERVICES = CoreTable(
    name="services",
    key=("service_event_id",),
    source=("service-generic",),
    description="A service/mission activity of a driver (delivered, visited).",
    columns=(
        _c("service_event_id", "VARCHAR", False, "event._id"),
        _c("uid", "BIGINT"),
        _c("vid", "BIGINT"),
        _c("tmx", "TIMESTAMPTZ", False),
        *_POSITION,
        _c("speed_kmh", "DOUBLE"),
        _c("heading", "DOUBLE"),
        _c("odometer", "BIGINT", True, "gkm; -1 is NULL"),
        _c("service_id", "VARCHAR", True, "exd.evt.id"),
        _c("delivered", "BOOLEAN", True, "exd.evt.delivered"),
        _c("message", "VARCHAR", True, "exd.evt.msg"),
        _c("service_tmx", "TIMESTAMPTZ", True, "exd.evt.tmx (no zone in the manual: UTC)"),
        _RECEIVED,
        _EXTRA,
        _SEQ,
    ),
)

QUARANTINE = CoreTable(
    name="quarantine",
    key=("raw_file", "seq"),  # seqs are per ingest instance: unique within a raw file
    source=("any frame or row that fails",),
    description="A raw frame, or a row of one, that could not be loaded, with the reason.",
    columns=(
        _RECEIVED,
        _SEQ,
        _c("connection_id", "VARCHAR"),
        _c("frame", "VARCHAR", False, "the raw frame, byte for byte"),
        _c("stage", "VARCHAR", False, "raw / parse / route / validate:<table>"),
        _c("reason", "VARCHAR", False, "human-readable reason"),
        _c("raw_file", "VARCHAR", True, "raw lake file the frame came from"),
    ),
)

CORE_TABLES: dict[str, CoreTable] = {
    t.name: t
    for t in (
        RECORDS,
        RECORD_IO,
        EVENTS,
        IO_EVENTS,
        CONNECTIONS,
        DRIVER_MESSAGES,
        FORMS,
        FORM_FIELDS,
        MESSAGE_STATUS,
        COMMANDS,
        COMMAND_REPLIES,
        IO_SNAPSHOTS,
        SERVICES,
        CONNECTION_CLOSES,
        QUARANTINE,
    )
}
