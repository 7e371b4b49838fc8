"""Reading a journal segment's layout byte by byte, and damaging it, for the tests.

This follows the documented segment format independently of ``ingest.journal``'s reader.
"""

from __future__ import annotations

import struct
from pathlib import Path

from ingest.journal import MAGIC, RecordKind

BATCH_HEADER = struct.Struct("<IIq")
RECORD_HEADER = struct.Struct("<IBq")


def segment_batches(blob: bytes) -> list[tuple[int, int, list[int], bool, list[int]]]:
    """Each complete batch of a segment: (start, end, frame seqs, holds a connection
    record, where its record headers start)."""
    found, pos = [], len(MAGIC)
    while pos + BATCH_HEADER.size <= len(blob):
        length = BATCH_HEADER.unpack_from(blob, pos)[0]
        body_start, body_end = pos + BATCH_HEADER.size, pos + BATCH_HEADER.size + length
        if body_end > len(blob):
            break  # an incomplete tail
        seqs, connection, headers, at = [], False, [], body_start
        while at < body_end:
            size, kind, seq = RECORD_HEADER.unpack_from(blob, at)
            if kind == RecordKind.CONNECTION:
                connection = True
            else:
                seqs.append(seq)
            headers.append(at)
            at += RECORD_HEADER.size + size
        found.append((pos, body_end, seqs, connection, headers))
        pos = body_end
    return found


def payload_only(batch: tuple, offset: int, width: int) -> bool:
    """Whether bytes ``offset..offset+width`` lie in ``batch``'s payloads only."""
    start, end, _, _, headers = batch
    headers = [(start, start + BATCH_HEADER.size)] + [
        (h, h + RECORD_HEADER.size) for h in headers
    ]
    return start <= offset and offset + width <= end and not any(
        a < offset + width and offset < b for a, b in headers
    )


def flip(path: Path, offset: int, width: int = 4) -> bytes:
    """Invert ``width`` bytes of the file at ``offset``; the damaged contents."""
    blob = bytearray(path.read_bytes())
    for i in range(offset, min(offset + width, len(blob))):
        blob[i] ^= 0xFF
    path.write_bytes(bytes(blob))
    return bytes(blob)
