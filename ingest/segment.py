"""The frames of one journal segment as raw-lake columns, ready for Arrow (no I/O).

Columns are appended frame by frame into flat buffers (``array`` and ``bytearray``), so
turning a segment of hundreds of thousands of frames into an Arrow table is a handful of
zero-copy ``from_buffers`` calls instead of per-frame Python work. ``seq`` is not stored:
the journal is the only allocator of sequence numbers and writes them consecutively, so
row ``i`` has ``seq = first_seq + i``.
"""

from __future__ import annotations

from array import array

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.frames import binary_as_text
from lake.raw_schema import BINARY_PREFIX, DIRECTION_IN, DIRECTION_OUT, RAW_SCHEMA

UNKNOWN_CONNECTION = "unknown"
_DIRECTIONS = pa.array([DIRECTION_IN, DIRECTION_OUT], pa.string())
_BINARY_PREFIX_BYTES = BINARY_PREFIX.encode()


class SegmentColumns:
    """Raw-lake columns of consecutive frames, starting at ``first_seq``.

    ``data`` holds every frame's raw-lake text back to back (binary frames already in
    their base64 form, listed in ``encoded_rows``), ``offsets`` the Arrow string offsets.
    """

    __slots__ = (
        "connections",
        "data",
        "directions",
        "encoded_rows",
        "first_seq",
        "offsets",
        "received_at",
    )

    def __init__(self, first_seq: int) -> None:
        self.first_seq = first_seq
        self.received_at = array("q")
        self.directions = array("b")
        self.data = bytearray()
        self.offsets = array("i", [0])
        self.encoded_rows: list[int] = []
        self.connections: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self.received_at)

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the last frame (``first_seq - 1`` when empty)."""
        return self.first_seq + len(self.received_at) - 1

    def set_connection(self, connection_id: str) -> None:
        """Frames appended from now on belong to ``connection_id``."""
        self.connections.append((len(self.received_at), connection_id))

    def append(self, received_at_us: int, outbound: bool, payload: bytes, binary: bool) -> None:
        """Append one frame (the journal writer inlines this on its hot path)."""
        if binary:
            self.encoded_rows.append(len(self.received_at))
            payload = binary_as_text(payload)
        self.data += payload
        self.offsets.append(len(self.data))
        self.received_at.append(received_at_us)
        self.directions.append(outbound)

    def to_table(self) -> pa.Table:
        """The frames as one table with exactly ``lake.raw_schema.RAW_SCHEMA``."""
        n = len(self.received_at)
        received_at = pa.Array.from_buffers(
            pa.timestamp("us", tz="UTC"), n, [None, pa.py_buffer(self.received_at)]
        )
        directions = pc.take(
            _DIRECTIONS, pa.Array.from_buffers(pa.int8(), n, [None, pa.py_buffer(self.directions)])
        )
        seq = pa.array(np.arange(self.first_seq, self.first_seq + n, dtype=np.int64))
        return pa.Table.from_arrays(
            [received_at, directions, self._connection_column(n), seq, self._frame_column(n)],
            schema=RAW_SCHEMA,
        )

    def _connection_column(self, n: int) -> pa.Array:
        runs = list(self.connections)
        if not runs or runs[0][0] > 0:
            runs.insert(0, (0, UNKNOWN_CONNECTION))
        pieces = []
        for (start, connection_id), (end, _) in zip(runs, [*runs[1:], (n, "")], strict=True):
            if end > start:
                pieces.append(pa.repeat(pa.scalar(connection_id, pa.string()), end - start))
        if not pieces:
            return pa.array([], pa.string())
        return pa.concat_arrays(pieces)

    def _frame_column(self, n: int) -> pa.Array:
        frames = pa.StringArray.from_buffers(
            n, pa.py_buffer(self.offsets), pa.py_buffer(self.data)
        )
        try:
            frames.validate(full=True)
        except pa.ArrowInvalid:
            return self._frame_column_slow(n)
        prefixed = pc.sum(pc.starts_with(frames, BINARY_PREFIX)).as_py() or 0
        if prefixed != len(self.encoded_rows):
            return self._frame_column_slow(n)
        return frames

    def _frame_column_slow(self, n: int) -> pa.Array:
        """Re-encode text frames that are not valid UTF-8 or look like the binary prefix.

        Only reached when a server sends such frames; kept apart from the fast path.
        """
        encoded = set(self.encoded_rows)
        texts: list[str] = []
        data, offsets = bytes(self.data), self.offsets
        for row in range(n):
            payload = data[offsets[row]:offsets[row + 1]]
            if row not in encoded and not payload.startswith(_BINARY_PREFIX_BYTES):
                try:
                    texts.append(payload.decode())
                    continue
                except UnicodeDecodeError:
                    pass
            if row in encoded:
                texts.append(payload.decode())
            else:
                texts.append(binary_as_text(payload).decode())
        return pa.array(texts, pa.string())
