"""The journal format, its torn-tail handling, and deterministic rolling (no sockets)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.frames import decode_raw_text
from ingest.journal import MAGIC, JournalWriter, RecordKind, encode_batch, read_segment
from ingest.rawfiles import publish_segment, raw_file_name
from ingest.recovery import recover_journal
from ingest.segment import SegmentColumns
from ingest.state import InstanceState
from lake.layout import DataLayout
from lake.raw_schema import RAW_SCHEMA
from lake.storage import list_parquet

HOUR_US = 3_600_000_000
T0 = 1_775_000_000_000_000  # 2026-03-31T23:33:20Z, in µs


def _write_segment(path: Path, frames: list[tuple[RecordKind, bytes]], first_seq: int = 1,
                   start_us: int = T0, step_us: int = 1, per_batch: int = 1) -> bytes:
    """A segment with one connection record, then ``per_batch`` frames per batch."""
    blob = bytearray(MAGIC)
    blob += encode_batch(start_us, [(RecordKind.CONNECTION, -1, b"conn-1")])
    for start in range(0, len(frames), per_batch):
        records = [(kind, first_seq + start + i, payload)
                   for i, (kind, payload) in enumerate(frames[start:start + per_batch])]
        blob += encode_batch(start_us + start * step_us, records)
    path.write_bytes(blob)
    return bytes(blob)


def test_torn_tail_keeps_exactly_the_complete_records(tmp_path):
    frames = [(RecordKind.TEXT_IN, f'{{"n":{i}}}'.encode()) for i in range(50)]
    path = tmp_path / "0000000000000001.wal"
    blob = _write_segment(path, frames)
    cut = random.Random(3).sample(range(len(MAGIC), len(blob)), 40)
    for length in cut:
        path.write_bytes(blob[:length])
        read = read_segment(path, 1)
        kept = read.columns.to_table().column("frame").to_pylist()
        assert kept == [p.decode() for _, p in frames[: len(kept)]]
        assert read.valid_bytes + read.discarded_bytes == length


def test_a_torn_batch_is_dropped_whole(tmp_path):
    frames = [(RecordKind.TEXT_IN, f'{{"n":{i}}}'.encode()) for i in range(10)]
    path = tmp_path / "0000000000000001.wal"
    blob = _write_segment(path, frames, per_batch=4)
    path.write_bytes(blob[:-3])
    kept = read_segment(path, 1).columns.to_table().column("frame").to_pylist()
    assert kept == [p.decode() for _, p in frames[:8]]


def test_corrupt_record_ends_the_segment(tmp_path):
    frames = [(RecordKind.TEXT_IN, b'{"a":1}'), (RecordKind.TEXT_IN, b'{"b":2}')]
    path = tmp_path / "0000000000000001.wal"
    blob = bytearray(_write_segment(path, frames))
    blob[-2] ^= 0xFF  # flip a payload byte of the last record
    path.write_bytes(bytes(blob))
    assert read_segment(path, 1).columns.to_table().column("frame").to_pylist() == ['{"a":1}']


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([RecordKind.TEXT_IN, RecordKind.BINARY_IN,
                                           RecordKind.TEXT_OUT]), st.binary(max_size=40)),
                min_size=1, max_size=30))
def test_every_payload_is_recoverable_from_the_raw_column(frames):
    columns = SegmentColumns(10)
    for index, (kind, payload) in enumerate(frames):
        columns.append(T0 + index, kind == RecordKind.TEXT_OUT, payload,
                       kind == RecordKind.BINARY_IN)
    table = columns.to_table()
    assert table.schema == RAW_SCHEMA
    assert [decode_raw_text(t) for t in table.column("frame").to_pylist()] == [
        p for _, p in frames
    ]
    assert table.column("seq").to_pylist() == list(range(10, 10 + len(frames)))
    assert table.column("direction").to_pylist() == [
        "out" if k == RecordKind.TEXT_OUT else "in" for k, _ in frames
    ]


def test_valid_text_is_stored_verbatim(tmp_path):
    columns = SegmentColumns(1)
    texts = ['{"txt":"Olá 🚚"}', "{bad json", ""]
    for text in texts:
        columns.append(T0, False, text.encode(), False)
    assert columns.to_table().column("frame").to_pylist() == texts


def test_segment_spanning_hours_is_split_with_deterministic_names(tmp_path):
    layout = DataLayout(tmp_path / "data")
    columns = SegmentColumns(100)
    columns.set_connection("c1")
    for index in range(6):
        columns.append(T0 + index * (HOUR_US // 4), False, b'{"x":1}', False)
    first = publish_segment(layout, "inst", columns, durable=False)
    again = publish_segment(layout, "inst", columns, durable=False)
    assert first == again == list_parquet(layout.raw)
    assert [p.name for p in first] == [
        raw_file_name("inst", 100, 101), raw_file_name("inst", 102, 105)
    ]
    assert [p.parent.name for p in first] == ["hour=23", "hour=00"]
    assert first[1].parent.parent.name == "date=2026-04-01"
    table = pq.read_table(first[1])
    assert pc.min(table.column("seq")).as_py() == 102


def test_recovery_after_a_crash_mid_roll_writes_each_frame_once(tmp_path):
    layout = DataLayout(tmp_path / "data")
    state = InstanceState(layout, "inst")
    state.journal.mkdir(parents=True)
    frames = [(RecordKind.TEXT_IN, f'{{"n":{i}}}'.encode()) for i in range(8)]
    path = state.journal / "0000000000000001.wal"
    _write_segment(path, frames, step_us=HOUR_US // 4)
    # The crash happened after the first partition file was published.
    published = publish_segment(layout, "inst", read_segment(path, 1).columns, durable=False)
    published[1].unlink()

    result = recover_journal(state)
    assert result.frames == 8 and result.next_seq == 9
    rows = [r for f in list_parquet(layout.raw) for r in pq.read_table(f).to_pylist()]
    assert sorted(r["seq"] for r in rows) == list(range(1, 9))
    assert {r["connection_id"] for r in rows} == {"conn-1"}
    assert not path.exists()
    assert recover_journal(state).next_seq == 9  # high-water mark survives an empty journal


def test_writer_numbers_consecutively_and_rotates_by_size(tmp_path):
    closed = []
    writer = JournalWriter(tmp_path / "j", 5, roll_bytes=200, on_closed=closed.append)
    writer.start_connection("c1")
    for _ in range(10):
        writer.add(RecordKind.TEXT_IN, b"x" * 30)
        writer.flush()
    writer.close()
    assert sum(len(c.columns) for c in closed) == 10
    assert [c.columns.first_seq for c in closed] == sorted(c.columns.first_seq for c in closed)
    assert closed[0].columns.first_seq == 5 and closed[-1].columns.last_seq == 14
    for segment in closed:
        os.close(segment.fd)
        assert read_segment(segment.path, segment.columns.first_seq).columns.to_table().equals(
            segment.columns.to_table()
        )
