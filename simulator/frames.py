"""Serialise simulator messages into the exact JSON shapes of the TRACKiT socket manual.

Field names, nesting and key order follow the manual's examples; ``dumps`` returns the
UTF-8 bytes of one text frame.
"""

from __future__ import annotations

from typing import Any

import orjson

from protocol.messages import EventSubType, InboundType
from simulator.messages import (
    CommandStatus,
    ConnectionChange,
    DeviceEvent,
    DriverText,
    FormSubmission,
    IoEvent,
    IoSnapshot,
    Message,
    MessageStatusUpdate,
    Record,
    RecordsBatch,
    ServiceVisit,
)
from simulator.timefmt import iso_local_no_zone, iso_utc

SOURCE = "tlk-server"
# Plain strings: reading ``.value`` of an enum member on every frame costs a descriptor call.
RECORDS = InboundType.RECORDS.value
EVENT = InboundType.EVENT.value
SUB_IO = EventSubType.IO.value
SUB_EVENT = EventSubType.EVENT.value


def record_body(record: Record) -> dict[str, Any]:
    """A ``lastRecord`` (the vehicleHistoric record shape)."""
    exd: dict[str, Any] = {"sat": record.sat, "alt": record.alt, "bpp": 0}
    if record.eco is not None:
        eco: dict[str, Any] = {
            "edt": 1, "aat": 11, "rpm": record.eco.rpm, "ehr": record.eco.engine_hours,
            "flv": record.eco.fuel_level,
        }
        if record.eco.driver_card is not None:
            eco["dcl"] = record.eco.driver_card
        exd["eco"] = eco
    exd["io"] = record.io
    return {
        "tmx": iso_utc(record.tmx), "vid": record.vid, "dmx": 1,
        "loc": {"lon": record.lon, "lat": record.lat},
        "gsp": record.speed_kmh, "hdg": record.heading, "gkm": record.odometer_m, "cas": 3,
        "exd": exd,
    }


def _event_record(record: Record, record_id: str, exd_extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "_id": record_id, "tmx": iso_utc(record.tmx), "vid": record.vid, "dmx": 8,
        "loc": {"lon": record.lon, "lat": record.lat},
        "gsp": record.speed_kmh, "hdg": record.heading, "gkm": record.odometer_m, "cas": 61,
        "exd": {"sat": record.sat, **exd_extra},
    }


def _event_body(uid: int, event_id: str, record_id: str, eid: int, record: Record,
                emit: float, address: str) -> dict[str, Any]:
    return {
        "_id": event_id, "hid": record_id, "mid": uid, "eid": eid,
        "tmx": iso_utc(int(record.tmx)), "rmx": iso_utc(emit),
        "lat": record.lat, "lng": record.lon, "sts": 1, "frc": address, "src": SOURCE,
    }


def _driver_event(uid: int, tmx: float, emit: float, lat: float, lon: float,
                  eid: int) -> dict[str, Any]:
    return {
        "hid": None, "mid": uid, "tmx": iso_utc(int(tmx)), "rmx": iso_utc(emit),
        "lat": lat, "lng": lon, "sts": 1, "frc": None, "src": SOURCE, "eid": eid,
    }


def frame_object(message: Message) -> dict[str, Any]:
    """The frame of ``message`` as a JSON-ready dict."""
    uid = message.uid
    params: dict[str, Any]
    if isinstance(message, RecordsBatch):
        params = {"type": RECORDS, "total": message.total,
                  "lastRecord": record_body(message.last)}
    elif isinstance(message, IoEvent):
        params = {
            "type": EVENT, "sub-type": SUB_IO,
            "record": _event_record(message.record, message.record_id,
                                    {"tlm": {"tio": message.io, "tlv": message.level}}),
            "event": _event_body(uid, message.event_id, message.record_id, message.eid,
                                 message.record, message.emit, message.address),
        }
    elif isinstance(message, DeviceEvent):
        params = {
            "type": EVENT, "sub-type": SUB_EVENT,
            "record": _event_record(message.record, message.record_id, {}),
            "event": _event_body(uid, message.event_id, message.record_id, message.eid,
                                 message.record, message.emit, message.address),
        }
    elif isinstance(message, ConnectionChange):
        kind = InboundType.PND_CONNECTION if message.driver_app else InboundType.CONNECTION
        params = {"type": kind.value, "status": message.status}
    elif isinstance(message, DriverText):
        event = _driver_event(uid, message.tmx, message.emit, message.lat, message.lon,
                              message.eid)
        if message.predefined_id is None:
            params = {"type": InboundType.PND_MSG.value, "event": {**event, "txt": message.text}}
        else:
            params = {"type": InboundType.PND_MSG_PRD.value,
                      "event": {**event, "pmi": message.predefined_id, "txt": message.text}}
    elif isinstance(message, FormSubmission):
        event = _driver_event(uid, message.tmx, message.emit, message.lat, message.lon,
                              message.eid)
        event["frm"] = {"fnm": message.name, "fld": message.fields}
        params = {"type": InboundType.FORM.value, "event": event}
    elif isinstance(message, ServiceVisit):
        params = {"type": InboundType.SERVICE_GENERIC.value, "event": {
            "tmx": iso_utc(int(message.tmx)), "vid": message.vid, "dmx": 0,
            "loc": {"lat": message.lat, "lng": message.lon},
            "gsp": 0, "hdg": 0, "gkm": -1, "cas": 600,
            "exd": {"type": InboundType.SERVICE_GENERIC.value, "evt": {
                "id": message.service_id, "delivered": message.delivered,
                "tmx": iso_local_no_zone(message.tmx), "msg": message.message,
            }},
            "_id": message.event_id,
        }}
    elif isinstance(message, CommandStatus):
        params = {"type": InboundType.CMD_STATUS.value, "id": message.command_id,
                  "status": message.ok}
    elif isinstance(message, IoSnapshot):
        stamp = iso_utc(message.tmx)
        params = {"type": InboundType.CMD_PARSED.value, "sub-type": "getio", "cmd": {
            str(io): {"tio": io, "tlv": level, "hid": None, "tmx": stamp}
            for io, level in sorted(message.levels.items())
        }}
    elif isinstance(message, MessageStatusUpdate):
        params = {"type": InboundType.MSG_STS.value, "id": message.message_id,
                  "txs": message.txs}
        if message.content is not None:
            params["content"] = message.content
    else:  # pragma: no cover - the Message union is closed
        raise TypeError(f"not a simulator message: {type(message).__name__}")
    return {"uid": uid, "params": params}


def dumps(message: Message) -> bytes:
    """The UTF-8 JSON text of ``message``'s frame."""
    return orjson.dumps(frame_object(message))


def type_name(message: Message) -> str:
    """The ``params.type`` (with sub-type for events) a message becomes, for counting."""
    if isinstance(message, IoEvent):
        return "event/io"
    if isinstance(message, DeviceEvent):
        return "event/event"
    return _TYPE_NAMES[type(message)](message)


_TYPE_NAMES = {
    RecordsBatch: lambda m: RECORDS,
    ConnectionChange: lambda m: (InboundType.PND_CONNECTION if m.driver_app
                                 else InboundType.CONNECTION).value,
    DriverText: lambda m: (InboundType.PND_MSG if m.predefined_id is None
                           else InboundType.PND_MSG_PRD).value,
    FormSubmission: lambda m: InboundType.FORM.value,
    ServiceVisit: lambda m: InboundType.SERVICE_GENERIC.value,
    CommandStatus: lambda m: InboundType.CMD_STATUS.value,
    IoSnapshot: lambda m: InboundType.CMD_PARSED.value,
    MessageStatusUpdate: lambda m: InboundType.MSG_STS.value,
}
