"""The frames of one journal segment as raw-lake columns, ready for Arrow (no I/O).

Columns are appended frame by frame into flat buffers (``array`` and ``bytearray``), so
turning a segment of hundreds of thousands of frames into an Arrow table is a handful of
zero-copy ``from_buffers`` calls instead of per-frame Python work. ``seq`` is not stored:
the journal is the only allocator of sequence numbers and writes them consecutively, so
row ``i`` has ``seq = first_seq + i``.
"""

from __future__ import annotations

from array import array

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
    their base64 form, listed in ``encoded_rows``) and ``offsets`` the Arrow string
    offsets. Per-frame work is two appends; everything else is recorded per run:
    ``time_runs`` (first row, receive time in µs) once per network read,
    ``connections`` (first row, connection id) once per connection, and the rare
    ``out_rows`` / ``encoded_rows``.
    """

    __slots__ = (
        "connections",
        "data",
        "encoded_rows",
        "first_seq",
        "offsets",
        "out_rows",
        "time_runs",
    )

    def __init__(self, first_seq: int) -> None:
        self.first_seq = first_seq
        self.data = bytearray()
        self.offsets = array("i", [0])
        self.time_runs: list[tuple[int, int]] = []
        self.out_rows: list[int] = []
        self.encoded_rows: list[int] = []
        self.connections: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the last frame (``first_seq - 1`` when empty)."""
        return self.first_seq + len(self) - 1

    def set_connection(self, connection_id: str) -> None:
        """Frames appended from now on belong to ``connection_id``."""
        self.connections.append((len(self), connection_id))

    def set_time(self, received_at_us: int) -> None:
        """Frames appended from now on were received at ``received_at_us``."""
        self.time_runs.append((len(self), received_at_us))

    def append(self, received_at_us: int, outbound: bool, payload: bytes, binary: bool) -> None:
        """Append one frame (the journal writer inlines the common case)."""
        row = len(self)
        if not self.time_runs or self.time_runs[-1][1] != received_at_us:
            self.time_runs.append((row, received_at_us))
        if outbound:
            self.out_rows.append(row)
        if binary:
            self.encoded_rows.append(row)
            payload = binary_as_text(payload)
        self.data += payload
        self.offsets.append(len(self.data))

    def to_table(self) -> pa.Table:
        """The frames as one table with exactly ``lake.raw_schema.RAW_SCHEMA``."""
        n = len(self)
        received_at = pa.Array.from_buffers(
            pa.timestamp("us", tz="UTC"), n, [None, pa.py_buffer(_expand_runs(self.time_runs, n))]
        )
        flags = array("b", bytes(n))
        for row in self.out_rows:
            flags[row] = 1
        directions = pc.take(
            _DIRECTIONS, pa.Array.from_buffers(pa.int8(), n, [None, pa.py_buffer(flags)])
        )
        seq = pa.Array.from_buffers(
            pa.int64(), n,
            [None, pa.py_buffer(array("q", range(self.first_seq, self.first_seq + n)))],
        )
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


def _expand_runs(runs: list[tuple[int, int]], n: int) -> array:
    """Per-row int64 values from ``(first row, value)`` runs (rows before the first: 0)."""
    if not runs:
        return array("q", bytes(8 * n))
    values = array("q", bytes(8 * runs[0][0]))
    for (start, value), (end, _) in zip(runs, [*runs[1:], (n, 0)], strict=True):
        if end > start:
            values += array("q", [value]) * (end - start)
    return values
