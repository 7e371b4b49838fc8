"""The write-ahead journal: every frame reaches it before anything else happens to it.

A journal is a folder of segment files ``<first_seq:016d>.wal``. A segment is ``MAGIC``
followed by batches, each written with one ``write()`` (little-endian)::

    batch:  u32 body length | u32 crc32(body) | i64 received_at (µs, UTC) | body
    body:   records, each   u32 payload length | u8 kind | i64 seq | payload

A batch holds the frames parsed from one network read, so they share a receive time.
Kinds are ``RecordKind``: inbound text, inbound binary (raw bytes), outbound text, and
connection records (payload: the connection id; seq -1) that open every segment and mark
each new socket connection. Frames get consecutive ``seq`` numbers; a segment never has
gaps.

"Reached the journal" means the bytes were handed to the OS with ``write()``: the writer
buffers the frames parsed from one network read and writes them in one call before the
event loop runs anything else, so ``kill -9`` loses none of them. ``fsync`` happens on a
timer and when a segment is rolled; only a power loss can lose the last interval. A torn
or corrupt batch (a crash in the middle of a write, a power loss) ends a segment when it is
read back: its frames never completely reached the journal.
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
_BATCH = struct.Struct("<IIq")
_RECORD = struct.Struct("<IBq")
_pack_record = _RECORD.pack
_crc32 = zlib.crc32
_now_ns = time.time_ns
_TEXT_IN = 1


class RecordKind(IntEnum):
    """What a journal record holds."""

    TEXT_IN = 1
    BINARY_IN = 2
    TEXT_OUT = 3
    CONNECTION = 4


_KINDS = frozenset(int(kind) for kind in RecordKind)


def segment_name(first_seq: int) -> str:
    """The file name of the segment whose first frame has ``first_seq``."""
    return f"{first_seq:016d}{SEGMENT_SUFFIX}"


def encode_batch(received_at_us: int, records: list[tuple[int, int, bytes]]) -> bytes:
    """One batch of ``(kind, seq, payload)`` records as it is written to a segment."""
    body = b"".join(_pack_record(len(p), kind, seq) + p for kind, seq, p in records)
    return _BATCH.pack(len(body), _crc32(body), received_at_us) + body


@dataclass
class SegmentReadResult:
    """What :func:`read_segment` found in one file."""

    columns: SegmentColumns
    valid_bytes: int
    discarded_bytes: int


def read_segment(path: Path, first_seq: int) -> SegmentReadResult:
    """Read the complete batches of a segment into columns.

    Reading stops at the first truncated, corrupt or out-of-sequence batch: that tail
    was never completely written, so its frames never reached the journal.
    """
    raw = path.read_bytes()
    columns = SegmentColumns(first_seq)
    if not raw.startswith(MAGIC):
        return SegmentReadResult(columns, 0, len(raw))
    pos, end = len(MAGIC), len(raw)
    expected_seq: int | None = None
    while pos + _BATCH.size <= end:
        length, crc, received_at = _BATCH.unpack_from(raw, pos)
        body_start = pos + _BATCH.size
        body = raw[body_start:body_start + length]
        if len(body) != length or crc != _crc32(body):
            break
        records = _parse_records(body)
        if records is None:
            break
        seqs = [seq for kind, seq, _ in records if kind != RecordKind.CONNECTION]
        if seqs and expected_seq is not None and seqs[0] != expected_seq:
            break
        for kind, seq, payload in records:
            if kind == RecordKind.CONNECTION:
                columns.set_connection(payload.decode())
                continue
            if expected_seq is None:
                columns.first_seq = expected_seq = seq
            expected_seq += 1
            columns.append(
                received_at, kind == RecordKind.TEXT_OUT, payload, kind == RecordKind.BINARY_IN
            )
        pos = body_start + length
    return SegmentReadResult(columns, pos, end - pos)


def _parse_records(body: bytes) -> list[tuple[int, int, bytes]] | None:
    """The records of a batch body; ``None`` if it is inconsistent."""
    records = []
    pos, end = 0, len(body)
    previous_seq: int | None = None
    while pos < end:
        if pos + _RECORD.size > end:
            return None
        length, kind, seq = _RECORD.unpack_from(body, pos)
        start = pos + _RECORD.size
        if start + length > end or kind not in _KINDS:
            return None
        if kind != RecordKind.CONNECTION:
            if previous_seq is not None and seq != previous_seq + 1:
                return None
            previous_seq = seq
        records.append((kind, seq, body[start:start + length]))
        pos = start + length
    return records


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

    Not thread-safe: it lives on the event loop thread. :meth:`add` buffers a frame in
    the open batch, :meth:`flush` hands the batch to the OS in one ``write()``; callers
    flush before yielding to the event loop. ``on_closed`` receives every rotated segment.
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
        # The open batch: a placeholder for its header, then its records.
        self._pending = bytearray(_BATCH.size)
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
        self._segment_bytes = self._write(MAGIC)
        self.first_frame_at = 0.0
        if self.connection_id is not None:
            self._add_connection_record(self.connection_id)
            self.flush()

    def _begin_batch(self) -> int:
        received_at = self._batch_ts = _now_ns() // 1000
        self._segment.set_time(received_at)
        return received_at

    def _add_connection_record(self, connection_id: str) -> None:
        if not self._batch_ts:
            self._begin_batch()
        payload = connection_id.encode()
        self._pending += _pack_record(len(payload), RecordKind.CONNECTION, -1)
        self._pending += payload
        self._segment.set_connection(connection_id)

    def start_connection(self, connection_id: str) -> None:
        """Frames added from now on arrived on (or were sent over) ``connection_id``."""
        self.flush()
        self.connection_id = connection_id
        self._add_connection_record(connection_id)
        self.flush()

    def add(self, kind: int, payload: bytes) -> None:
        """Buffer one frame in the open batch; it reaches the journal at :meth:`flush`.

        Frames of one batch share one receive time: they came out of the same network
        read.
        """
        if not self._batch_ts:
            self._begin_batch()
        seq = self.next_seq
        self.next_seq = seq + 1
        pending = self._pending
        pending += _pack_record(len(payload), kind, seq)
        pending += payload
        segment = self._segment
        if kind != _TEXT_IN:
            row = len(segment)
            if kind == RecordKind.TEXT_OUT:
                segment.out_rows.append(row)
            elif kind == RecordKind.BINARY_IN:
                segment.encoded_rows.append(row)
                payload = binary_as_text(payload)
        data = segment.data
        data += payload
        segment.offsets.append(len(data))

    def flush(self) -> None:
        """Write the open batch with one ``write()``; rotate if the segment is full."""
        received_at = self._batch_ts
        if not received_at:
            return
        self._batch_ts = 0
        pending = self._pending
        with memoryview(pending) as view, view[_BATCH.size:] as body:
            crc = _crc32(body)
        _BATCH.pack_into(pending, 0, len(pending) - _BATCH.size, crc, received_at)
        self._segment_bytes += self._write(pending)
        del pending[_BATCH.size:]
        if not self.first_frame_at and len(self._segment):
            self.first_frame_at = time.monotonic()
        if self._segment_bytes >= self.roll_bytes and len(self._segment):
            self.rotate()

    def _write(self, data: bytes | bytearray) -> int:
        with memoryview(data) as view:
            written = 0
            while written < len(view):
                written += os.write(self._fd, view[written:])
        self.bytes_written += written
        return written

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
