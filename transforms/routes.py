"""Where each kind of frame goes: one declaration per route of the manual's frame types.

A frame's route is its ``params.type`` (``event`` also by ``sub-type``; outbound frames by
their command ``type``). A route declares, as data:

* ``fields``: the JSON paths it reads, each with the SQL type it must have;
* ``known``: for each object of the frame, the keys the route maps; any other key is
  kept in the row's ``extra`` JSON, so a field TRACKiT adds later is never lost;
* ``tables``: for each core table it feeds, the SQL expression of each column (over the
  field aliases and the lineage columns ``received_at``, ``seq``, ``connection_id``);
* ``children``: tables with one row per entry of a JSON map (``exd.io``, ``frm.fld``,
  ``cmd``), as expressions over ``e.key`` / ``e.value``;
* ``only_with``: for a table fed by only some frames of the route, the known object
  the frame must have (an ``event`` feeds ``records`` only when it has a ``record``).

Route names are the manual's type names (``protocol.messages``): ``params.type``, then
``event:<sub-type>`` and ``out:<command type>``. ``transforms.route_sql`` compiles a
route into its DuckDB queries (``trackit transform --show-sql ROUTE`` prints them); this
module holds no logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.messages import CommandType, EventSubType, InboundType, MessageStatus

# Labels of frames that are counted, not stored: the server's auth reply, and our own auth
# command (which carries SESSID: it must never be copied anywhere, not even to quarantine).
CONTROL_ROUTES = frozenset({InboundType.AUTH.value, f"out:{CommandType.AUTH}"})
# The label of a close frame received (raw text ``close:<code> <reason>``); the first pass
# (``transforms.classify``) turns such a frame into the document
# ``{"params": {"type": "ws:close", "code": <code>, "reason": <reason>}}`` that its route reads.
CLOSE_ROUTE = "ws:close"


@dataclass(frozen=True)
class Field:
    """A value read from the frame: a JSONPath and the SQL type it must convert to.

    ``MAP`` is a JSON object kept as text (the source of a child table).
    """

    path: str
    type: str


@dataclass(frozen=True)
class Child:
    """A child table: one row per entry ``e`` of the JSON map in field ``source``.

    ``invalid`` is a SQL predicate over ``e`` that is true for an entry whose key or value
    has the wrong type (the frame is then quarantined with a type error); ``valid_text``
    a regular expression that a map's whole JSON text matches only when no entry can be
    invalid (the common shape, checked without building the entries).
    """

    source: str
    columns: dict[str, str]
    parent: dict[str, str] = field(default_factory=dict)
    invalid: str = "false"
    valid_text: str | None = None


@dataclass(frozen=True)
class Route:
    """How frames of one route become rows."""

    name: str
    primary: str
    fields: dict[str, Field]
    known: dict[str, tuple[str, ...]]
    tables: dict[str, dict[str, str]]
    children: dict[str, Child] = field(default_factory=dict)
    # A table fed only by the frames that have a given known object: table -> its path.
    only_with: dict[str, str] = field(default_factory=dict)

    @property
    def table_names(self) -> list[str]:
        return [*self.tables, *self.children]


def _record_fields(prefix: str) -> dict[str, Field]:
    p = prefix
    return {
        "vid": Field(f"{p}.vid", "BIGINT"),
        "tmx": Field(f"{p}.tmx", "TIMESTAMPTZ"),
        "record_id": Field(f"{p}._id", "VARCHAR"),
        "dmx": Field(f"{p}.dmx", "INTEGER"),
        "lat": Field(f"{p}.loc.lat", "DOUBLE"),
        "lon": Field(f"{p}.loc.lon", "DOUBLE"),
        "gsp": Field(f"{p}.gsp", "DOUBLE"),
        "hdg": Field(f"{p}.hdg", "DOUBLE"),
        "gkm": Field(f"{p}.gkm", "BIGINT"),
        "cas": Field(f"{p}.cas", "INTEGER"),
        "sat": Field(f"{p}.exd.sat", "INTEGER"),
        "alt": Field(f"{p}.exd.alt", "DOUBLE"),
        "bpp": Field(f"{p}.exd.bpp", "INTEGER"),
        "edt": Field(f"{p}.exd.eco.edt", "INTEGER"),
        "aat": Field(f"{p}.exd.eco.aat", "INTEGER"),
        "rpm": Field(f"{p}.exd.eco.rpm", "INTEGER"),
        "flv": Field(f"{p}.exd.eco.flv", "DOUBLE"),
        "ehr": Field(f"{p}.exd.eco.ehr", "DOUBLE"),
        "dcl": Field(f"{p}.exd.eco.dcl", "VARCHAR"),
        "io_map": Field(f"{p}.exd.io", "MAP"),
        "tio": Field(f"{p}.exd.tlm.tio", "INTEGER"),
        "tlv": Field(f"{p}.exd.tlm.tlv", "DOUBLE"),
    }


def _record_known(prefix: str) -> dict[str, tuple[str, ...]]:
    p = prefix
    return {
        p: ("tmx", "vid", "_id", "dmx", "loc", "gsp", "hdg", "gkm", "cas", "exd"),
        f"{p}.loc": ("lat", "lon"),
        f"{p}.exd": ("sat", "alt", "bpp", "eco", "io", "tlm"),
        f"{p}.exd.eco": ("edt", "aat", "rpm", "ehr", "flv", "dcl"),
        f"{p}.exd.tlm": ("tio", "tlv"),
    }


def _record_columns(source: str, batch_total: str, extra: str) -> dict[str, str]:
    return {
        "uid": "uid", "vid": "vid", "tmx": "tmx", "received_at": "received_at",
        "batch_total": batch_total, "source": f"'{source}'", "record_id": "record_id",
        "dmx": "dmx", "lat": "lat", "lon": "lon", "speed_kmh": "gsp", "heading": "hdg",
        # gkm -1 means "unknown" in the manual: NULL, never a distance.
        "odometer": "nullif(gkm, -1)", "cas": "cas", "sat": "sat", "alt": "alt",
        "bpp": "bpp", "edt": "edt", "aat": "aat", "rpm": "rpm", "fuel_level": "flv",
        "engine_hours": "ehr", "driver_card": "dcl", "extra": extra, "seq": "seq",
    }


_RECORD_IO = Child(
    source="io_map",
    columns={"io": "TRY_CAST(e.key AS INTEGER)", "value": "TRY_CAST(e.value AS DOUBLE)"},
    parent={"vid": "vid", "tmx": "tmx", "uid": "uid", "received_at": "received_at",
            "seq": "seq"},
    invalid="TRY_CAST(e.key AS INTEGER) IS NULL"
            " OR (e.value IS NOT NULL AND TRY_CAST(e.value AS DOUBLE) IS NULL)",
    # {"1":0,"8":1.5}: keys of at most 9 digits (an INTEGER), plain numbers.
    valid_text=r'\{("\d{1,9}":-?\d{1,18}(\.\d{1,18})?(,"\d{1,9}":-?\d{1,18}(\.\d{1,18})?)*)?\}',
)

_EVENT_FIELDS = {
    "event_id": Field("$.params.event._id", "VARCHAR"),
    "hid": Field("$.params.event.hid", "VARCHAR"),
    "mid": Field("$.params.event.mid", "BIGINT"),
    "eid": Field("$.params.event.eid", "INTEGER"),
    "ev_tmx": Field("$.params.event.tmx", "TIMESTAMPTZ"),
    "rmx": Field("$.params.event.rmx", "TIMESTAMPTZ"),
    "ev_lat": Field("$.params.event.lat", "DOUBLE"),
    "ev_lng": Field("$.params.event.lng", "DOUBLE"),
    "sts": Field("$.params.event.sts", "INTEGER"),
    "frc": Field("$.params.event.frc", "VARCHAR"),
    "src": Field("$.params.event.src", "VARCHAR"),
}
_EVENT_KNOWN = ("_id", "hid", "mid", "eid", "tmx", "rmx", "lat", "lng", "sts", "frc", "src")
_ENVELOPE = {
    "eid": "eid", "mid": "mid", "tmx": "ev_tmx", "rmx": "rmx", "received_at": "received_at",
    "lat": "ev_lat", "lon": "ev_lng", "sts": "sts", "frc": "frc", "src": "src",
}
_UID = {"uid": Field("$.uid", "BIGINT")}


def _records_route() -> Route:
    prefix = "$.params.lastRecord"
    return Route(
        name=InboundType.RECORDS.value,
        primary="records",
        fields={**_UID, "total": Field("$.params.total", "INTEGER"), **_record_fields(prefix)},
        known={"$": ("uid", "params"), "$.params": ("type", "total", "lastRecord"),
               **_record_known(prefix)},
        tables={"records": _record_columns("records", "total", "extra")},
        children={"record_io": _RECORD_IO},
    )


def _event_route(sub_type: EventSubType) -> Route:
    prefix = "$.params.record"
    tables = {
        "events": {
            "event_id": "event_id", "record_id": "hid", "uid": "uid", "vid": "vid",
            "sub_type": "sub_type", **_ENVELOPE, "extra": "extra", "seq": "seq",
        },
        # An event's record is a record like any other; the frame's unknown fields are
        # kept once, in events.extra.
        "records": _record_columns("event", "NULL", "NULL"),
    }
    if sub_type == EventSubType.IO:
        tables["io_events"] = {
            "event_id": "event_id", "vid": "vid", "uid": "uid", "tmx": "coalesce(ev_tmx, tmx)",
            "io": "tio", "level": "tlv", "received_at": "received_at", "seq": "seq",
        }
    return Route(
        name=f"{InboundType.EVENT}:{sub_type}",
        primary="events",
        fields={**_UID, "sub_type": Field("$.params.sub-type", "VARCHAR"),
                **_record_fields(prefix), **_EVENT_FIELDS},
        known={"$": ("uid", "params"), "$.params": ("type", "sub-type", "record", "event"),
               **_record_known(prefix), "$.params.event": _EVENT_KNOWN},
        tables=tables,
        children={"record_io": _RECORD_IO},
        # An event without a record still loads (events); it just adds no record row.
        only_with={"records": prefix},
    )


def _connection_route(type_: InboundType, kind: str) -> Route:
    return Route(
        name=type_.value,
        primary="connections",
        fields={**_UID, "status": Field("$.params.status", "INTEGER")},
        known={"$": ("uid", "params"), "$.params": ("type", "status")},
        tables={"connections": {"uid": "uid", "kind": f"'{kind}'", "status": "status",
                                "received_at": "received_at", "extra": "extra",
                                "seq": "seq"}},
    )


def _driver_message_route(type_: InboundType, kind: str) -> Route:
    return Route(
        name=type_.value,
        primary="driver_messages",
        fields={**_UID, **_EVENT_FIELDS, "txt": Field("$.params.event.txt", "VARCHAR"),
                "pmi": Field("$.params.event.pmi", "INTEGER")},
        known={"$": ("uid", "params"), "$.params": ("type", "event"),
               "$.params.event": (*_EVENT_KNOWN, "txt", "pmi")},
        tables={"driver_messages": {
            "uid": "uid", "kind": f"'{kind}'", "text": "txt", "predefined_id": "pmi",
            "record_id": "hid", **_ENVELOPE, "extra": "extra", "seq": "seq"}},
    )


def _form_route() -> Route:
    form_id = "md5(concat_ws('|', uid, epoch_us(ev_tmx), eid))"
    return Route(
        name=InboundType.FORM.value,
        primary="forms",
        fields={**_UID, **_EVENT_FIELDS, "fnm": Field("$.params.event.frm.fnm", "VARCHAR"),
                "fld_map": Field("$.params.event.frm.fld", "MAP")},
        known={"$": ("uid", "params"), "$.params": ("type", "event"),
               "$.params.event": (*_EVENT_KNOWN, "frm"),
               "$.params.event.frm": ("fnm", "fld")},
        tables={"forms": {
            "form_id": form_id, "uid": "uid", "form_name": "fnm", "record_id": "hid",
            **_ENVELOPE, "extra": "extra", "seq": "seq"}},
        children={"form_fields": Child(
            source="fld_map",
            columns={"field": "e.key", "value": "e.value"},
            parent={"form_id": form_id, "uid": "uid", "tmx": "ev_tmx",
                    "received_at": "received_at", "seq": "seq"},
        )},
    )


def _message_status_route() -> Route:
    # the labels in txs order: txs n is element n + 1 of the SQL list
    status = "[" + ", ".join(f"'{s.label}'" for s in sorted(MessageStatus)) + "]"
    return Route(
        name=InboundType.MSG_STS.value,
        primary="message_status",
        fields={**_UID, "message_id": Field("$.params.id", "VARCHAR"),
                "txs": Field("$.params.txs", "INTEGER"),
                "txt": Field("$.params.content.content.txt", "VARCHAR"),
                "guid": Field("$.params.content.content.guid", "VARCHAR")},
        known={"$": ("uid", "params"), "$.params": ("type", "id", "txs", "content"),
               "$.params.content": ("type", "content"),
               "$.params.content.content": ("txt", "guid")},
        tables={"message_status": {
            "uid": "uid", "message_id": "message_id", "txs": "txs",
            # txs outside 0..5 gives NULL here and fails validation (txs and status).
            "status": f"CASE WHEN txs BETWEEN 0 AND 5 THEN {status}[txs + 1] END",
            "received_at": "received_at", "text": "txt", "guid": "guid", "extra": "extra",
            "seq": "seq"}},
    )


def _cmd_status_route() -> Route:
    return Route(
        name=InboundType.CMD_STATUS.value,
        primary="command_replies",
        fields={**_UID, "command_id": Field("$.params.id", "VARCHAR"),
                "status": Field("$.params.status", "BOOLEAN")},
        known={"$": ("uid", "params"), "$.params": ("type", "id", "status")},
        tables={"command_replies": {
            "uid": "uid", "reply_type": f"'{InboundType.CMD_STATUS}'", "command_id": "command_id",
            "status": "status", "received_at": "received_at", "extra": "extra",
            "seq": "seq"}},
    )


def _cmd_parsed_route() -> Route:
    return Route(
        name=InboundType.CMD_PARSED.value,
        primary="command_replies",
        fields={**_UID, "command": Field("$.params.sub-type", "VARCHAR"),
                "cmd_map": Field("$.params.cmd", "MAP")},
        known={"$": ("uid", "params"), "$.params": ("type", "sub-type", "cmd")},
        tables={"command_replies": {
            "uid": "uid", "reply_type": f"'{InboundType.CMD_PARSED}'", "command": "command",
            "received_at": "received_at", "extra": "extra", "seq": "seq"}},
        children={"io_snapshots": Child(
            source="cmd_map",
            columns={
                "io": "TRY_CAST(coalesce(json_extract_string(e.value, '$.tio'), e.key)"
                      " AS INTEGER)",
                "level": "TRY_CAST(json_extract_string(e.value, '$.tlv') AS DOUBLE)",
                "tmx": "TRY_CAST(json_extract_string(e.value, '$.tmx') AS TIMESTAMPTZ)",
                "record_id": "json_extract_string(e.value, '$.hid')",
            },
            parent={"uid": "uid", "received_at": "received_at", "seq": "seq"},
        )},
    )


def _service_route() -> Route:
    p = "$.params.event"
    return Route(
        name=InboundType.SERVICE_GENERIC.value,
        primary="services",
        fields={
            **_UID,
            "service_event_id": Field(f"{p}._id", "VARCHAR"),
            "vid": Field(f"{p}.vid", "BIGINT"),
            "tmx": Field(f"{p}.tmx", "TIMESTAMPTZ"),
            "lat": Field(f"{p}.loc.lat", "DOUBLE"),
            # The manual's service-generic uses loc.lng (records use loc.lon): take either.
            "lng": Field(f"{p}.loc.lng", "DOUBLE"),
            "lon": Field(f"{p}.loc.lon", "DOUBLE"),
            "gsp": Field(f"{p}.gsp", "DOUBLE"),
            "hdg": Field(f"{p}.hdg", "DOUBLE"),
            "gkm": Field(f"{p}.gkm", "BIGINT"),
            "service_id": Field(f"{p}.exd.evt.id", "VARCHAR"),
            "delivered": Field(f"{p}.exd.evt.delivered", "BOOLEAN"),
            "message": Field(f"{p}.exd.evt.msg", "VARCHAR"),
            "service_tmx": Field(f"{p}.exd.evt.tmx", "TIMESTAMPTZ"),
        },
        known={"$": ("uid", "params"), "$.params": ("type", "event"),
               p: ("_id", "vid", "tmx", "loc", "gsp", "hdg", "gkm", "exd"),
               f"{p}.loc": ("lat", "lng", "lon"),
               f"{p}.exd": ("type", "evt"),
               f"{p}.exd.evt": ("id", "delivered", "tmx", "msg")},
        tables={"services": {
            "service_event_id": "service_event_id", "uid": "uid", "vid": "vid",
            "tmx": "tmx", "lat": "lat", "lon": "coalesce(lng, lon)", "speed_kmh": "gsp",
            "heading": "hdg", "odometer": "nullif(gkm, -1)", "service_id": "service_id",
            "delivered": "delivered", "message": "message", "service_tmx": "service_tmx",
            "received_at": "received_at", "extra": "extra", "seq": "seq"}},
    )


def _outbound_getio_route() -> Route:
    return Route(
        name=f"out:{CommandType.API}",
        primary="commands",
        fields={"uid": Field("$.query.uid", "BIGINT"),
                "command": Field("$.query.cmd", "VARCHAR"),
                "command_id": Field("$.query.id", "VARCHAR")},
        known={},
        tables={"commands": {
            "uid": "uid", "command": "command", "command_id": "command_id",
            "sent_at": "received_at", "status": "'sent'", "text": "NULL",
            "connection_id": "connection_id", "seq": "seq"}},
    )


def _outbound_message_route() -> Route:
    return Route(
        name=f"out:{CommandType.PND_API}",
        primary="commands",
        fields={"uid": Field("$.query.uid", "BIGINT"),
                "command": Field("$.query.content.type", "VARCHAR"),
                "command_id": Field("$.query.content.guid", "VARCHAR"),
                "txt": Field("$.query.content.txt", "VARCHAR")},
        known={},
        tables={"commands": {
            "uid": "uid", "command": "command", "command_id": "command_id",
            "sent_at": "received_at", "status": "'sent'", "text": "txt",
            "connection_id": "connection_id", "seq": "seq"}},
    )


def _close_route() -> Route:
    # the document classify makes of a close frame: {"params": {"type", "code", "reason"}}
    return Route(
        name=CLOSE_ROUTE,
        primary="connection_closes",
        fields={"code": Field("$.params.code", "INTEGER"),
                "reason": Field("$.params.reason", "VARCHAR")},
        known={"$": ("params",), "$.params": ("type", "code", "reason")},
        tables={"connection_closes": {
            "connection_id": "connection_id", "received_at": "received_at", "code": "code",
            "reason": "reason", "seq": "seq"}},
    )


ROUTES: dict[str, Route] = {
    r.name: r
    for r in (
        _records_route(),
        _event_route(EventSubType.IO),
        _event_route(EventSubType.EVENT),
        _connection_route(InboundType.CONNECTION, "device"),
        _connection_route(InboundType.PND_CONNECTION, "driver_app"),
        _driver_message_route(InboundType.PND_MSG, "free"),
        _driver_message_route(InboundType.PND_MSG_PRD, "predefined"),
        _form_route(),
        _message_status_route(),
        _cmd_status_route(),
        _cmd_parsed_route(),
        _service_route(),
        _outbound_getio_route(),
        _outbound_message_route(),
        _close_route(),
    )
}

# The table that holds the one row of each frame of a route ("where the frame landed").
PRIMARY_TABLES = tuple(dict.fromkeys(r.primary for r in ROUTES.values()))
