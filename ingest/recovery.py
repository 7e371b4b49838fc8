"""Start-up recovery: every journaled frame goes into the raw lake before anything else.

Rules, segment by segment (oldest first):

* an intact segment is published and deleted;
* an incomplete tail (unreadable bytes with no intact batch after them: a write cut short
  by a crash) is cut with a WARNING, the rest published, the segment deleted;
* a damaged range (unreadable bytes with intact batches after them) costs only the frames
  inside it: the intact frames before and after it are published, the segment is moved,
  unchanged, to ``damaged/`` and an ERROR names the file, the byte range and the lost
  ``seq``.

Frames the raw lake already holds (a roll that was cut short after publishing) are not
published again, so recovering twice, or after a crash during recovery, writes no frame
twice. The ``seq`` high-water mark is checked against the raw lake first: a missing,
empty, unreadable or negative mark, or one below the highest ``seq`` in the lake, is
repaired from the lake with a WARNING, so numbers are never reused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ingest.journal import DamagedRange, SegmentReadResult, read_segment, segment_first_seq
from ingest.rawfiles import SeqCoverage, publish_segment, published_seqs
from ingest.state import InstanceState

log = logging.getLogger(__name__)


@dataclass
class RecoveryResult:
    """What recovery did; ``next_seq`` is where the new process continues numbering."""

    next_seq: int
    segments: int = 0
    frames: int = 0
    discarded_bytes: int = 0
    damaged_segments: list[Path] = field(default_factory=list)
    files: list[Path | str] = field(default_factory=list)


def recover_journal(state: InstanceState) -> RecoveryResult:
    """Publish every segment left in the journal, then remove it (or keep it if damaged).

    The caller must hold the instance lock. Returns the next free ``seq``.
    """
    published = published_seqs(state.layout, state.instance)
    result = RecoveryResult(next_seq=trusted_high_water(state, published) + 1)
    for path, first_seq in _segments(state):
        read = read_segment(path, first_seq)
        if read.discarded_bytes:
            log.warning(
                "journal segment %s: discarded %d bytes of an incomplete tail "
                "(a write cut short by a crash)", path, read.discarded_bytes,
            )
        for run in read.runs:
            result.files += publish_segment(state.layout, state.instance, run, skip=published)
        result.frames += read.frames
        result.segments += 1
        result.discarded_bytes += read.discarded_bytes
        # A segment kept aside may hold unreadable frames: their seq are never reused.
        last_seq = read.seq_ceiling if read.damaged else read.last_seq
        state.write_high_water(last_seq)
        if read.damaged:
            kept = state.move_aside(path)
            result.damaged_segments.append(kept)
            log.error("%s", _damage_report(path, kept, read, published))
        else:
            path.unlink()
        result.next_seq = max(result.next_seq, last_seq + 1)
    if result.segments:
        log.info(
            "recovered %d journaled frames from %d segments into %d raw files",
            result.frames, result.segments, len(result.files),
        )
    return result


def trusted_high_water(state: InstanceState, published: SeqCoverage) -> int:
    """The high-water mark, repaired from the raw lake (with a WARNING) when it is wrong."""
    mark = state.load_high_water()
    in_lake = published.max_seq
    if mark.problem is None and mark.seq >= in_lake:
        return mark.seq
    if mark.problem == "missing" and not in_lake:
        return 0  # a new instance
    repaired = max(mark.seq, in_lake)
    found = mark.problem or f"{mark.seq}, below the raw lake"
    log.warning(
        "seq high-water mark %s was %s; the raw lake holds seq up to %d for instance %s: "
        "rewrote it as %d", state.high_water_path, found, in_lake, state.instance, repaired,
    )
    state.reset_high_water(repaired)
    return repaired


def _segments(state: InstanceState) -> list[tuple[Path, int]]:
    """The journal's segments, oldest first; anything else there is left alone, with a WARNING."""
    if not state.journal.exists():
        return []
    segments = []
    for path in sorted(state.journal.iterdir()):
        first_seq = segment_first_seq(path.name)
        if first_seq is None or not path.is_file():
            log.warning(
                "ignoring %s in the journal folder: not a segment (<16 digits>.wal); "
                "move it elsewhere", path,
            )
            continue
        segments.append((path, first_seq))
    return segments


def _damage_report(path: Path, kept: Path, read: SegmentReadResult, lake: SeqCoverage) -> str:
    ranges = "; ".join(_describe(damage, lake) for damage in read.damaged)
    return (
        f"journal segment {path} is damaged: {ranges}; {read.frames} intact frames "
        f"recovered into the raw lake; the segment is kept unchanged at {kept}"
    )


def _describe(damage: DamagedRange, lake: SeqCoverage) -> str:
    where = f"bytes {damage.start}..{damage.end} ({damage.end - damage.start} bytes) unreadable"
    first, last = damage.first_lost_seq, damage.last_lost_seq
    if last is None:
        return f"{where}, frames from seq {first} on lost (how many is unknown)"
    if last < first:
        return f"{where}, no frame lost"
    lost = sum(b - a + 1 for a, b in lake.missing(first, last))
    if not lost:
        return f"{where}, frames seq {first}..{last} already in the raw lake, none lost"
    return f"{where}, {lost} frame{'s' if lost != 1 else ''} lost (seq {first}..{last})"
