"""The write-ahead journal: every frame reaches it before anything else happens to it.

A journal is a folder of segment files ``<first_seq:016d>.wal``. A segment starts with
``MAGIC`` and holds records::

    u32 payload length | u8 kind | i64 seq | i64 received_at (µs, UTC) | u32 crc32 | payload

little-endian; the CRC covers the 21 header bytes before it and the payload. Kinds are
``RecordKind``: inbound text, inbound binary (raw bytes), outbound text, and connection
records (payload: the connection id; no seq) that open every segment and mark each new
socket connection. Frames get consecutive ``seq`` numbers; a segment never has gaps.

"Reached the journal" means the bytes were handed to the OS with ``write()``: the writer
buffers the frames parsed from one network read and writes them in one call before the
event loop runs anything else, so ``kill -9`` loses none of them. ``fsync`` happens on a
timer and when a segment is rolled; only a power loss can lose the last interval. A torn
or corrupt tail (a crash in the middle of a write) ends a segment when it is read back.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from ingest.frames import binary_as_text
from ingest.segment import SegmentColumns

MAGIC = b"TRKJNL01"
SEGMENT_SUFFIX = ".wal"
_HEADER = struct.Struct("<IBqq")
_CRC = struct.Struct("<I")
HEADER_SIZE = _HEADER.size + _CRC.size


class RecordKind(IntEnum):
    """What a journal record holds."""

    TEXT_IN = 1
    BINARY_IN = 2
    TEXT_OUT = 3
    CONNECTION = 4


def segment_name(first_seq: int) -> str:
    """The file name of the segment whose first frame has ``first_seq``."""
    return f"{first_seq:016d}{SEGMENT_SUFFIX}"


def encode_record(kind: RecordKind, seq: int, received_at_us: int, payload: bytes) -> bytes:
    """One record as it is written to a segment."""
    header = _HEADER.pack(len(payload), kind, seq, received_at_us)
    return header + _CRC.pack(zlib.crc32(payload, zlib.crc32(header))) + payload


@dataclass
class SegmentReadResult:
    """What :func:`read_segment` found in one file."""

    columns: SegmentColumns
    valid_bytes: int
    discarded_bytes: int


def read_segment(path: Path, first_seq: int) -> SegmentReadResult:
    """Read the complete records of a segment into columns.

    Reading stops at the first truncated, corrupt or out-of-sequence record: that tail
    was never completely written, so its frame never reached the journal.
    """
    raw = path.read_bytes()
    columns = SegmentColumns(first_seq)
    if not raw.startswith(MAGIC):
        return SegmentReadResult(columns, 0, len(raw))
    pos, end = len(MAGIC), len(raw)
    expected_seq: int | None = None
    while pos + HEADER_SIZE <= end:
        length, kind, seq, received_at = _HEADER.unpack_from(raw, pos)
        (crc,) = _CRC.unpack_from(raw, pos + _HEADER.size)
        start = pos + HEADER_SIZE
        payload = raw[start:start + length]
        if len(payload) != length or crc != zlib.crc32(
            payload, zlib.crc32(raw[pos:pos + _HEADER.size])
        ):
            break
        if kind == RecordKind.CONNECTION:
            columns.set_connection(payload.decode())
        elif kind in (RecordKind.TEXT_IN, RecordKind.BINARY_IN, RecordKind.TEXT_OUT):
            if expected_seq is None:
                columns.first_seq = expected_seq = seq
            if seq != expected_seq:
                break
            expected_seq += 1
            columns.append(
                received_at, kind == RecordKind.TEXT_OUT, payload, kind == RecordKind.BINARY_IN
            )
        else:
            break
        pos = start + length
    return SegmentReadResult(columns, pos, end - pos)


@dataclass
class ClosedSegment:
    """A segment that receives no more frames, waiting to be rolled into the raw lake.

    ``fd`` is still open so the roller can ``fsync`` it before converting; the roller
    closes it.
    """

    path: Path
    fd: int
    columns: SegmentColumns
    size: int


class JournalWriter:
    """Appends frames to the active segment and rotates segments.

    Not thread-safe: it lives on the event loop thread. :meth:`add` buffers a frame,
    :meth:`flush` hands the buffer to the OS in one ``write()``; callers flush before
    yielding to the event loop. ``on_closed`` receives every rotated segment.
    """

    def __init__(
        self,
        directory: Path,
        next_seq: int,
        roll_bytes: int,
        on_closed: Callable[[ClosedSegment], None],
    ) -> None:
        self.directory = directory
        self.roll_bytes = roll_bytes
        self.on_closed = on_closed
        self.next_seq = next_seq
        self.initial_seq = next_seq
        self.bytes_written = 0
        self.first_frame_at = 0.0
        self.connection_id: str | None = None
        self._pending = bytearray()
        self._batch_ts = 0
        self._segment_bytes = 0
        self._fd = -1
        self._path = directory
        self._segment = SegmentColumns(next_seq)
        directory.mkdir(parents=True, exist_ok=True)
        self._open_segment()

    @property
    def frames_written(self) -> int:
        """Frames journaled by this writer (in and out)."""
        return self.next_seq - self.initial_seq

    @property
    def active_frames(self) -> int:
        """Frames in the active segment (not yet rolled)."""
        return len(self._segment)

    @property
    def active_bytes(self) -> int:
        """Bytes written to the active segment."""
        return self._segment_bytes

    def _open_segment(self) -> None:
        self._path = self.directory / segment_name(self.next_seq)
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        self._segment = SegmentColumns(self.next_seq)
        self._segment_bytes = 0
        self.first_frame_at = 0.0
        self._pending += MAGIC
        if self.connection_id is not None:
            self._add_connection_record(self.connection_id)
        self.flush()

    def _add_connection_record(self, connection_id: str) -> None:
        self._pending += encode_record(
            RecordKind.CONNECTION, -1, time.time_ns() // 1000, connection_id.encode()
        )
        self._segment.set_connection(connection_id)

    def start_connection(self, connection_id: str) -> None:
        """Frames added from now on arrived on (or were sent over) ``connection_id``."""
        self.flush()
        self.connection_id = connection_id
        self._add_connection_record(connection_id)
        self.flush()

    def add(self, kind: int, payload: bytes) -> None:
        """Buffer one frame; it reaches the journal at the next :meth:`flush`.

        Frames buffered together share one receive time: they came out of the same
        network read.
        """
        received_at = self._batch_ts
        if not received_at:
            received_at = self._batch_ts = time.time_ns() // 1000
        seq = self.next_seq
        self.next_seq = seq + 1
        header = _HEADER.pack(len(payload), kind, seq, received_at)
        pending = self._pending
        pending += header
        pending += _CRC.pack(zlib.crc32(payload, zlib.crc32(header)))
        pending += payload
        segment = self._segment
        if kind == RecordKind.BINARY_IN:
            segment.encoded_rows.append(len(segment.received_at))
            payload = binary_as_text(payload)
        segment.data += payload
        segment.offsets.append(len(segment.data))
        segment.received_at.append(received_at)
        segment.directions.append(kind == RecordKind.TEXT_OUT)

    def flush(self) -> None:
        """Write every buffered record with one ``write()``; rotate if the segment is full."""
        pending = self._pending
        self._batch_ts = 0
        if not pending:
            return
        view = memoryview(pending)
        written = 0
        try:
            while written < len(pending):
                written += os.write(self._fd, view[written:])
        finally:
            view.release()
        self._segment_bytes += len(pending)
        self.bytes_written += len(pending)
        pending.clear()
        if not self.first_frame_at and len(self._segment):
            self.first_frame_at = time.monotonic()
        if self._segment_bytes >= self.roll_bytes and len(self._segment):
            self.rotate()

    def rotate(self) -> None:
        """Close the active segment (if it holds frames) and start a new one."""
        self.flush()
        if not len(self._segment):
            return
        closed = ClosedSegment(self._path, self._fd, self._segment, self._segment_bytes)
        self._open_segment()
        self.on_closed(closed)

    def dup_fd(self) -> int:
        """A duplicate of the active segment's descriptor, for ``fsync`` off the loop."""
        return os.dup(self._fd)

    def close(self) -> None:
        """Roll the last frames and close; an empty active segment is removed."""
        self.rotate()
        os.close(self._fd)
        self._fd = -1
        if not len(self._segment):
            self._path.unlink(missing_ok=True)
