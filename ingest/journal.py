"""The write-ahead journal: every frame reaches it before anything else happens to it.

A journal is a folder of segment files ``<first_seq:016d>.wal``. A segment is ``MAGIC``
followed by batches, each written with one ``write()`` (little-endian)::

    batch:  u32 body length | u32 crc32(received_at | body) | i64 received_at (µs, UTC) | body
    body:   records, each   u32 payload length | u8 kind | i64 seq | payload

Segments of the first format (``MAGIC_V1``, whose CRC covers the body only) are still read.

A batch holds the frames parsed from one network read, so they share a receive time.
Kinds are ``RecordKind``: inbound text, inbound binary (raw bytes), outbound text, and
connection records (payload: the connection id; seq -1) that open every segment and mark
each new socket connection. Frames get consecutive ``seq`` numbers; a segment never has
gaps (only damage on disk can make one when it is read back).

"Reached the journal" means the bytes were handed to the OS with ``write()``: the writer
buffers the frames parsed from one network read and writes them in one call before the
event loop runs anything else, so ``kill -9`` loses none of them. ``fsync`` happens on a
timer and when a segment is rolled; only a power loss can lose the last interval.

Reading a segment back tells two kinds of unreadable bytes apart. An incomplete tail (a
crash in the middle of a write, a power loss) has no intact batch after it: its frames
never completely reached the journal, and it is cut. A damaged range (bad bytes on disk)
has intact batches after it: reading resynchronises on the next intact batch, so one bad
block costs only the frames inside it, and the caller learns which ``seq`` were lost.
"""

from __future__ import annotations

import os
import re
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from ingest.frames import binary_as_text
from ingest.segment import SegmentColumns

MAGIC = b"TRKJNL02"
MAGIC_V1 = b"TRKJNL01"
SEGMENT_SUFFIX = ".wal"
_BATCH = struct.Struct("<IIq")
_LENGTH_CRC = struct.Struct("<II")
_TIME = struct.Struct("<q")
_CRC_FROM = _LENGTH_CRC.size  # the CRC covers the receive time and the body
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


_SEGMENT_NAME = re.compile(r"(\d{16})" + re.escape(SEGMENT_SUFFIX))


def segment_first_seq(name: str) -> int | None:
    """The first ``seq`` of a segment file name, ``None`` if it is not a segment's name."""
    match = _SEGMENT_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def segment_name(first_seq: int) -> str:
    """The file name of the segment whose first frame has ``first_seq``."""
    return f"{first_seq:016d}{SEGMENT_SUFFIX}"


def encode_batch(received_at_us: int, records: list[tuple[int, int, bytes]]) -> bytes:
    """One batch of ``(kind, seq, payload)`` records as it is written to a segment."""
    covered = _TIME.pack(received_at_us) + b"".join(
        _pack_record(len(p), kind, seq) + p for kind, seq, p in records
    )
    return _LENGTH_CRC.pack(len(covered) - _TIME.size, _crc32(covered)) + covered


@dataclass(frozen=True)
class DamagedRange:
    """Bytes ``start..end`` of a segment that hold no intact batch, with intact batches after.

    ``first_lost_seq..last_lost_seq`` are the frames that were in it (none when
    ``last_lost_seq < first_lost_seq``); ``last_lost_seq`` is ``None`` when no frame follows
    the range in its segment, so how many were lost is unknown.
    """

    start: int
    end: int
    first_lost_seq: int
    last_lost_seq: int | None

    @property
    def lost_frames(self) -> int | None:
        """How many frames the range held (``None``: unknown)."""
        if self.last_lost_seq is None:
            return None
        return max(0, self.last_lost_seq - self.first_lost_seq + 1)


@dataclass
class SegmentReadResult:
    """What :func:`read_segment` found in one file.

    ``runs`` are the intact frames in runs of consecutive ``seq`` (one run unless the
    segment has damaged ranges), ``damaged`` the unreadable ranges between intact batches,
    ``discarded_bytes`` the incomplete tail after the last intact batch (which ends at
    ``valid_bytes``).
    """

    first_seq: int
    runs: list[SegmentColumns]
    valid_bytes: int
    discarded_bytes: int
    damaged: list[DamagedRange]

    @property
    def frames(self) -> int:
        """How many intact frames the segment holds."""
        return sum(len(run) for run in self.runs)

    @property
    def last_seq(self) -> int:
        """The highest intact ``seq`` (``first_seq - 1`` when there is none)."""
        return self.runs[-1].last_seq if self.runs else self.first_seq - 1

    @property
    def seq_ceiling(self) -> int:
        """No frame of the file, readable or not, can have a ``seq`` above this.

        Unreadable bytes whose frames are unknown hold at most one frame per record header.
        """
        unknown = self.discarded_bytes + sum(
            r.end - r.start for r in self.damaged if r.last_lost_seq is None
        )
        return self.last_seq + unknown // _RECORD.size

    @property
    def columns(self) -> SegmentColumns:
        """All intact frames, for a segment without damaged ranges (one run)."""
        if len(self.runs) > 1:
            raise ValueError("the segment has damaged ranges: read its runs")
        return self.runs[0] if self.runs else SegmentColumns(self.first_seq)


def read_segment(path: Path, first_seq: int) -> SegmentReadResult:
    """Read every intact batch of a segment into columns.

    ``first_seq`` is the one in the segment's name. A batch that is truncated, fails its
    CRC, or breaks the ``seq`` sequence is unreadable. If no intact batch follows it, it
    is an incomplete tail (a write cut short by a crash): its frames never completely
    reached the journal and reading ends there. Otherwise it is a damaged range: reading
    resynchronises on the next intact batch, and ``seq`` continuity restarts there.
    """
    raw = path.read_bytes()
    end = len(raw)
    runs: list[SegmentColumns] = []
    damaged: list[DamagedRange] = []
    columns: SegmentColumns | None = None
    connection: str | None = None
    last_seq = first_seq - 1
    expected_seq: int | None = None
    frame_since_damage = True
    covers_time: bool | None = True
    if raw.startswith(MAGIC) or raw.startswith(MAGIC_V1):
        pos = valid = len(MAGIC)
        covers_time = raw.startswith(MAGIC)
    elif MAGIC.startswith(raw) or MAGIC_V1.startswith(raw):  # created, header cut short
        return SegmentReadResult(first_seq, runs, 0, end, damaged)
    else:
        pos, valid, covers_time = -1, 0, None  # a damaged header: resynchronise from byte 0
    while pos < end:
        batch = _batch_at(raw, pos, expected_seq, covers_time) if pos >= 0 else None
        if batch is None:
            found = _next_intact_batch(raw, max(pos + 1, 0), last_seq, covers_time)
            if found is None:
                if pos < 0:
                    damaged.append(DamagedRange(0, end, last_seq + 1, None))
                    pos = end
                break
            start, (found_pos, batch, covers_time) = max(pos, 0), found
            if _may_hold_connection(raw, max(start, len(MAGIC)), found_pos):
                connection = None
            if not frame_since_damage and damaged:
                damaged[-1] = DamagedRange(damaged[-1].start, found_pos, last_seq + 1, None)
            else:
                damaged.append(DamagedRange(start, found_pos, last_seq + 1, None))
            frame_since_damage = False
            columns, expected_seq, pos = None, None, found_pos
        batch_end, received_at, records = batch
        for kind, seq, payload in records:
            if kind == RecordKind.CONNECTION:
                connection = payload.decode(errors="replace")
                if columns is not None:
                    columns.set_connection(connection)
                continue
            if columns is None:
                columns = SegmentColumns(seq)
                runs.append(columns)
                if connection is not None:
                    columns.set_connection(connection)
                if not frame_since_damage:
                    lost = damaged[-1]
                    damaged[-1] = DamagedRange(lost.start, lost.end, lost.first_lost_seq, seq - 1)
                    frame_since_damage = True
            columns.append(
                received_at, kind == RecordKind.TEXT_OUT, payload, kind == RecordKind.BINARY_IN
            )
            last_seq, expected_seq = seq, seq + 1
        pos = valid = batch_end
    return SegmentReadResult(first_seq, runs, valid, end - max(pos, valid), damaged)


_Batch = tuple[int, int, list[tuple[int, int, bytes]]]


def _batch_at(
    raw: bytes, pos: int, expected_seq: int | None, covers_time: bool | None
) -> _Batch | None:
    """The intact batch at ``pos`` (its end, receive time, records), else ``None``.

    With ``expected_seq``, a batch holding frames must start at that ``seq``.
    ``covers_time`` says whether the CRC covers the receive time (``MAGIC``) or only
    the body (``MAGIC_V1``).
    """
    if pos + _BATCH.size > len(raw):
        return None
    length, crc, received_at = _BATCH.unpack_from(raw, pos)
    body_start = pos + _BATCH.size
    body = raw[body_start:body_start + length]
    if len(body) != length:
        return None
    if covers_time:
        if crc != _crc32(body, _crc32(raw[pos + _CRC_FROM:body_start])):
            return None
    elif crc != _crc32(body):
        return None
    records = _parse_records(body)
    if records is None:
        return None
    if expected_seq is not None:
        for kind, seq, _ in records:
            if kind != RecordKind.CONNECTION:
                if seq != expected_seq:
                    return None
                break
    return body_start + length, received_at, records


# Where a batch may start: its receive time below 2**56 µs, and a first record that is
# a frame (kind 1-3, seq below 2**40) or a connection record (kind 4, seq -1). Searching
# the record header's kind byte lets the regex engine skip ahead in C.
_FIRST_RECORD = re.compile(rb"[\x01-\x03].{5}\x00\x00\x00|\x04\xff{8}", re.DOTALL)
_KIND_OFFSET = _BATCH.size + 4


def _next_intact_batch(
    raw: bytes, start: int, after_seq: int, covers_time: bool | None
) -> tuple[int, _Batch, bool] | None:
    """The first intact batch at or after ``start`` whose frames all follow ``after_seq``.

    ``covers_time`` ``None`` (the segment's header is damaged) tries both formats; the
    one that matched is returned with the batch.
    """
    formats = [True, False] if covers_time is None else [covers_time]
    search = _FIRST_RECORD.search
    at = start + _KIND_OFFSET
    while (match := search(raw, at)) is not None:
        pos = match.start() - _KIND_OFFSET
        at = match.start() + 1
        if raw[pos + _BATCH.size - 1]:  # the receive time's top byte
            continue
        for covers in formats:
            batch = _batch_at(raw, pos, None, covers)
            if batch is None:
                continue
            records = batch[2]
            first = next((seq for kind, seq, _ in records if kind != RecordKind.CONNECTION), None)
            if first is None or first > after_seq:
                return pos, batch, covers
    return None


def _may_hold_connection(raw: bytes, start: int, end: int) -> bool:
    """Whether the unreadable bytes ``start..end`` may have held a connection record.

    Only a single batch whose length and record layout are intact (its payload bytes
    damaged) can be shown to hold none.
    """
    if end - start < _BATCH.size:
        return end > start
    length = _BATCH.unpack_from(raw, start)[0]
    if start + _BATCH.size + length != end:
        return True
    records = _parse_records(raw[start + _BATCH.size:end])
    return records is None or any(kind == RecordKind.CONNECTION for kind, _, _ in records)


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
        path = self.directory / segment_name(self.next_seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            self._fd = fd
            self._segment_bytes = self._write(MAGIC)
        except OSError:
            self._fd = -1
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._path = path
        self._segment = SegmentColumns(self.next_seq)
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
        _TIME.pack_into(pending, _CRC_FROM, received_at)
        with memoryview(pending) as view, view[_CRC_FROM:] as covered:
            crc = _crc32(covered)
        _LENGTH_CRC.pack_into(pending, 0, len(pending) - _BATCH.size, crc)
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
        """Close the active segment (if it holds frames) and start a new one.

        The closed segment is handed to ``on_closed`` before the new one is created, so
        it is rolled even if creating the next segment fails (disk full).
        """
        self.flush()
        if not len(self._segment):
            return
        self._hand_off()
        self._open_segment()

    def _hand_off(self) -> None:
        closed = ClosedSegment(self._path, self._fd, self._segment, self._segment_bytes)
        self._fd = -1
        self._segment = SegmentColumns(self.next_seq)
        self.on_closed(closed)

    def dup_fd(self) -> int:
        """A duplicate of the active segment's descriptor, for ``fsync`` off the loop."""
        return os.dup(self._fd)

    def close(self) -> None:
        """Roll the last frames and close; an empty active segment is removed."""
        self.flush()
        if len(self._segment):
            self._hand_off()
        elif self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._path.unlink(missing_ok=True)
