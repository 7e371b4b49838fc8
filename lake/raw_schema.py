"""The raw lake's columns (docs/ingest.md "What is stored"), shared by the writer and every reader.

Binary WebSocket frames (the manual defines none, but a server may send one) are kept in
``frame`` as ``BINARY_PREFIX`` followed by the payload in standard base64, so the column
stays a string and no frame is ever dropped. A TRACKiT text frame is JSON and never starts
with that prefix.

The close frame a server ends a connection with is kept as an ``in`` row whose ``frame`` is
``CLOSE_PREFIX`` + the close code, then a space and the reason when there is one
(``close:1009 message too big``). A text frame that itself starts with either prefix is
stored in base64, so every ``close:`` row is a close frame and every ``base64:`` row
decodes to the original bytes.
"""

from __future__ import annotations

import pyarrow as pa

RAW_SCHEMA = pa.schema(
    [
        pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("direction", pa.string(), nullable=False),
        pa.field("connection_id", pa.string(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("frame", pa.string(), nullable=False),
    ]
)

DIRECTION_IN = "in"
DIRECTION_OUT = "out"
BINARY_PREFIX = "base64:"
CLOSE_PREFIX = "close:"
