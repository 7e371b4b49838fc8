"""Start-up recovery: every journaled frame goes into the raw lake before anything else."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ingest.journal import SEGMENT_SUFFIX, read_segment
from ingest.rawfiles import publish_segment
from ingest.state import InstanceState

log = logging.getLogger(__name__)


@dataclass
class RecoveryResult:
    """What recovery did; ``next_seq`` is where the new process continues numbering."""

    next_seq: int
    segments: int = 0
    frames: int = 0
    discarded_bytes: int = 0
    files: list[Path] = field(default_factory=list)


def recover_journal(state: InstanceState) -> RecoveryResult:
    """Publish every segment left in the journal, then remove it.

    The caller must hold the instance lock. Rolling is deterministic (see
    ``ingest.rawfiles``), so a segment that was half-rolled before a crash is rolled
    again onto the same file names. Returns the next free ``seq``.
    """
    result = RecoveryResult(next_seq=state.read_high_water() + 1)
    paths = sorted(state.journal.glob(f"*{SEGMENT_SUFFIX}")) if state.journal.exists() else []
    for path in paths:
        first_seq = int(path.name.removesuffix(SEGMENT_SUFFIX))
        read = read_segment(path, first_seq)
        if read.discarded_bytes:
            log.warning(
                "journal segment %s: discarded %d bytes of an incomplete tail "
                "(a write cut short by a crash)", path.name, read.discarded_bytes,
            )
        if len(read.columns):
            result.files += publish_segment(state.layout, state.instance, read.columns)
            state.write_high_water(read.columns.last_seq)
            result.frames += len(read.columns)
        result.segments += 1
        result.discarded_bytes += read.discarded_bytes
        path.unlink()
    result.next_seq = max(result.next_seq, state.read_high_water() + 1)
    if result.segments:
        log.info(
            "recovered %d journaled frames from %d segments into %d raw files",
            result.frames, result.segments, len(result.files),
        )
    return result
