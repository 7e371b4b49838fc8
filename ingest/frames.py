"""Classification and raw-lake representation of socket frames (no I/O).

The ingest never interprets frames beyond recognising the server's ``auth`` reply; every
frame is stored as received. Text frames go to the raw lake's ``frame`` column as their
UTF-8 text; frames whose bytes are not text (binary frames, or text frames whose payload is
not valid UTF-8) are stored as ``lake.raw_schema.BINARY_PREFIX`` + standard base64.
"""

from __future__ import annotations

import base64

import orjson

from lake.raw_schema import BINARY_PREFIX
from protocol.messages import InboundType

_BINARY_PREFIX_BYTES = BINARY_PREFIX.encode()


def auth_reply_success(payload: bytes) -> bool | None:
    """``params.success`` if ``payload`` is the server's ``auth`` reply, else ``None``.

    Anything that is not a JSON object with ``params.type == "auth"`` (malformed JSON,
    other types) is not an auth reply.
    """
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict):
        return None
    params = message.get("params")
    if not isinstance(params, dict) or params.get("type") != InboundType.AUTH.value:
        return None
    return params.get("success") is True


def binary_as_text(payload: bytes) -> bytes:
    """The raw-lake text (UTF-8 bytes) of a frame that is not valid text."""
    return _BINARY_PREFIX_BYTES + base64.b64encode(payload)


def decode_raw_text(text: str) -> bytes:
    """Invert :func:`binary_as_text` / plain text: the original payload bytes."""
    if text.startswith(BINARY_PREFIX):
        return base64.b64decode(text[len(BINARY_PREFIX):])
    return text.encode()
