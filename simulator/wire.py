"""Server-to-client WebSocket frames as bytes (RFC 6455 §5.2), for batched writes.

The server negotiates no extension (``compression=None``), and server frames are never
masked, so a data frame is just a 2-, 4- or 10-byte header and the payload. Encoding frames
here lets a whole batch go out in one ``transport.write`` instead of one websockets
``send`` per frame; tests check the bytes against websockets' own parser.
"""

from __future__ import annotations

import struct

_FIN_TEXT = 0x81
_FIN_BINARY = 0x82
_U16 = struct.Struct("!BBH")
_U64 = struct.Struct("!BBQ")


def encode_frame(payload: bytes, text: bool = True) -> bytes:
    """One unmasked, unfragmented text (or binary) frame carrying ``payload``."""
    first = _FIN_TEXT if text else _FIN_BINARY
    length = len(payload)
    if length < 126:
        return bytes((first, length)) + payload
    if length < 65536:
        return _U16.pack(first, 126, length) + payload
    return _U64.pack(first, 127, length) + payload
