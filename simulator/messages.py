"""What the simulated server sends, as plain data, before it becomes a frame.

Every message carries ``emit``: the simulated server time at which it goes out on the
socket (the stream is ordered by it). ``frames.py`` turns these into the manual's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.catalog import DeviceEventKind


@dataclass(slots=True)
class Eco:
    """CAN-bus data of a record (``exd.eco``)."""

    rpm: int
    engine_hours: int
    fuel_level: int
    driver_card: str | None


@dataclass(slots=True)
class Record:
    """One position record of a tracking device (the API manual's vehicleHistoric record)."""

    tmx: float
    vid: int
    lat: float
    lon: float
    speed_kmh: int
    heading: int
    odometer_m: int
    sat: int
    alt: int
    io: dict[str, int]
    """Input levels keyed by input number as a string (``"1"``), as the frames spell them;
    shared between records, never mutated."""
    eco: Eco | None


@dataclass(slots=True)
class RecordsBatch:
    """A device uploaded ``total`` records; the socket shows only the last one."""

    emit: float
    uid: int
    total: int
    last: Record


@dataclass(slots=True)
class IoEvent:
    """An input changed level (``event`` sub-type ``io``)."""

    emit: float
    uid: int
    record: Record
    record_id: str
    event_id: str
    eid: int
    io: int
    level: int
    address: str


@dataclass(slots=True)
class DeviceEvent:
    """A device event (``event`` sub-type ``event``): power or movement detection."""

    emit: float
    uid: int
    record: Record
    record_id: str
    event_id: str
    eid: int
    kind: DeviceEventKind
    address: str


@dataclass(slots=True)
class ConnectionChange:
    """A tracking device (``connection``) or a driver app (``pnd-connection``) came or went."""

    emit: float
    uid: int
    driver_app: bool
    status: int


@dataclass(slots=True)
class DriverText:
    """A text the driver sent: free (``pnd-msg``) or predefined (``pnd-msg-prd``)."""

    emit: float
    uid: int
    tmx: float
    lat: float
    lon: float
    eid: int
    text: str
    predefined_id: int | None


@dataclass(slots=True)
class FormSubmission:
    """A form the driver filled in (``form``)."""

    emit: float
    uid: int
    tmx: float
    lat: float
    lon: float
    eid: int
    name: str
    fields: dict[str, Any]


@dataclass(slots=True)
class ServiceVisit:
    """A service (mission) delivered or visited by the driver (``service-generic``)."""

    emit: float
    uid: int
    vid: int
    tmx: float
    lat: float
    lon: float
    event_id: str
    service_id: str
    delivered: bool
    message: str


@dataclass(slots=True)
class CommandStatus:
    """The server's receipt of an ``api`` command (``cmd-status``)."""

    emit: float
    uid: int
    command_id: str
    ok: bool


@dataclass(slots=True)
class IoSnapshot:
    """The device's answer to ``getio`` (``cmd-parsed`` sub-type ``getio``)."""

    emit: float
    uid: int
    tmx: float
    levels: dict[int, int]


@dataclass(slots=True)
class MessageStatusUpdate:
    """A delivery status of a message sent to a driver (``msg-sts``); ``txs`` 0 echoes it."""

    emit: float
    uid: int
    message_id: str
    txs: int
    content: dict[str, Any] | None


Message = (
    RecordsBatch | IoEvent | DeviceEvent | ConnectionChange | DriverText | FormSubmission
    | ServiceVisit | CommandStatus | IoSnapshot | MessageStatusUpdate
)
