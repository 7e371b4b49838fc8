"""Message types, status codes and command builders of the TRACKiT socket manual."""

from __future__ import annotations

import secrets
import string
from enum import IntEnum, StrEnum
from typing import Any

DEFAULT_WS_URL = "wss://websocket.trackit.pt"
DEFAULT_AUTH_URL = "https://i.trackit.pt/ws/websocketAuth"
AUTH_PATH = "/ws/websocketAuth"
SESSID_ENV = "TRACKIT_SESSID"
AUTHORIZATION_ENV = "TRACKIT_AUTHORIZATION"


class InboundType(StrEnum):
    """``params.type`` of the frames the server sends."""

    AUTH = "auth"
    RECORDS = "records"
    EVENT = "event"
    CONNECTION = "connection"
    CMD_STATUS = "cmd-status"
    CMD_PARSED = "cmd-parsed"
    PND_CONNECTION = "pnd-connection"
    PND_MSG = "pnd-msg"
    PND_MSG_PRD = "pnd-msg-prd"
    FORM = "form"
    MSG_STS = "msg-sts"
    SERVICE_GENERIC = "service-generic"


class EventSubType(StrEnum):
    """``params.sub-type`` of an ``event`` frame."""

    IO = "io"
    EVENT = "event"


class CommandType(StrEnum):
    """``type`` of the commands a client sends."""

    AUTH = "auth"
    API = "api"
    PND_API = "pnd-api"


class MessageStatus(IntEnum):
    """``txs`` of a ``msg-sts`` frame: the delivery state of a message sent to a driver."""

    NOT_PROCESSED = 0
    BUFFERED = 1
    ERROR = 2
    PENDING = 3
    DELIVERED = 4
    READ = 5

    @property
    def label(self) -> str:
        """The name used in ``core.message_status.status`` (``not_processed``, ...)."""
        return self.name.lower()


# Every status label, in ``txs`` order: the one declaration the core tables, their
# validation and the marts take them from.
STATUS_LABELS = tuple(status.label for status in MessageStatus)

_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_command_id() -> str:
    """A 25-character id like the manual's ``ZS8SYGKBXAI40T2ASQ3R3HW95`` (also used as guid)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(25))


def auth_command(user_id: int, sessid: str) -> dict[str, Any]:
    """The socket's ``auth`` command."""
    return {"type": CommandType.AUTH.value, "query": {"user_id": user_id, "SESSID": sessid}}


def getio_command(uid: int, command_id: str) -> dict[str, Any]:
    """The ``api`` command asking a device for its current I/O (``getio``)."""
    return {
        "type": CommandType.API.value,
        "query": {"id": command_id, "uid": uid, "cmd": "getio", "CR": False},
    }


def driver_message_command(
    uid: int, text: str, user_id: int, user_name: str, guid: str
) -> dict[str, Any]:
    """The ``pnd-api`` command sending a text message to a driver's app."""
    return {
        "type": CommandType.PND_API.value,
        "query": {
            "uid": uid,
            "content": {
                "type": "msg",
                "txt": text,
                "user_id": user_id,
                "user_name": user_name,
                "guid": guid,
            },
        },
    }
