"""Damaged journal blocks: only the frames inside them are lost, and the damage is reported.

Segments are written by the real ``JournalWriter`` and damaged by flipping bytes on disk.
"""

from __future__ import annotations

import logging
import os
import random
import struct
import time
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from segment_bytes import flip, payload_only, segment_batches

from ingest.journal import MAGIC, MAGIC_V1, JournalWriter, RecordKind, read_segment
from ingest.rawfiles import publish_segment, raw_file_name
from ingest.recovery import recover_journal
from ingest.state import InstanceState
from lake.layout import DataLayout
from lake.storage import list_parquet

INSTANCE = "inst"
T0 = 1_775_000_000_000_000


def _write_journal(journal: Path, frames: int, per_batch: int = 1, first_seq: int = 1,
                   reconnect_at: int | None = None) -> Path:
    """One segment of ``frames`` frames ``{"n": i}`` by the real writer; its path."""
    closed = []
    writer = JournalWriter(journal, first_seq, roll_bytes=1 << 30, on_closed=closed.append)
    writer.start_connection("conn-1")
    for n in range(frames):
        if n == reconnect_at:
            writer.start_connection("conn-2")
        writer.add(RecordKind.TEXT_IN, f'{{"n":{n},"pad":"{"x" * (n % 50)}"}}'.encode())
        if (n + 1) % per_batch == 0:
            writer.flush()
    writer.close()
    (segment,) = closed
    os.close(segment.fd)
    return segment.path


def _lake_rows(layout: DataLayout) -> list[dict]:
    rows = [r for f in list_parquet(layout.raw) for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: r["seq"])


def _numbers(rows: list[dict]) -> list[int]:
    return [int(r["frame"].split(",")[0].removeprefix('{"n":')) for r in rows]


@pytest.fixture
def state(tmp_path: Path) -> InstanceState:
    return InstanceState(DataLayout(tmp_path / "data"), INSTANCE)


def test_a_damaged_block_loses_only_its_frames_and_the_segment_is_kept(state, caplog):
    path = _write_journal(state.journal, 500)
    batches = segment_batches(path.read_bytes())
    offset = int(path.stat().st_size * 0.3)
    hit = [b for b in batches if b[0] < offset + 4 and offset < b[1]]
    corrupt = flip(path, offset)

    with caplog.at_level(logging.WARNING, logger="ingest"):
        result = recover_journal(state)

    rows = _lake_rows(state.layout)
    lost = {seq for b in hit for seq in b[2]}
    assert [r["seq"] for r in rows] == [s for s in range(1, 501) if s not in lost]
    assert _numbers(rows) == [s - 1 for s in range(1, 501) if s not in lost]
    # A reconnect may hide in bytes that span batches: their frames' connection is unknown.
    single_batch_body = len(hit) == 1 and payload_only(hit[0], offset, 4)
    assert {r["connection_id"] for r in rows} <= {"conn-1", "unknown"}
    assert single_batch_body <= ({r["connection_id"] for r in rows} == {"conn-1"})
    assert result.frames == 500 - len(lost) and result.next_seq == 501
    # One raw file per run of consecutive seq, named by it.
    first_lost, last_lost = min(lost), max(lost)
    assert sorted(p.name for p in list_parquet(state.layout.raw)) == [
        raw_file_name(INSTANCE, 1, first_lost - 1), raw_file_name(INSTANCE, last_lost + 1, 500)
    ]
    # The segment is kept as it was found, out of the journal.
    kept = state.damaged / path.name
    assert kept.read_bytes() == corrupt and not path.exists()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(path) in errors[0] and str(kept) in errors[0]
    assert f"bytes {hit[0][0]}..{hit[-1][1]}" in errors[0]
    frames = "1 frame" if len(lost) == 1 else f"{len(lost)} frames"
    assert f"{frames} lost (seq {first_lost}..{last_lost})" in errors[0]
    assert "incomplete tail" not in caplog.text


def test_recovering_a_damaged_segment_twice_writes_no_frame_twice(state):
    path = _write_journal(state.journal, 300, per_batch=7)
    flip(path, path.stat().st_size // 2)
    corrupt = path.read_bytes()
    recover_journal(state)
    files = list_parquet(state.layout.raw)
    # A crash after publishing, before the segment left the journal: recover again.
    (state.damaged / path.name).unlink()
    path.write_bytes(corrupt)
    recover_journal(state)
    assert list_parquet(state.layout.raw) == files
    seqs = [r["seq"] for r in _lake_rows(state.layout)]
    assert len(seqs) == len(set(seqs)) and 290 <= len(seqs) < 300
    assert (state.damaged / path.name).read_bytes() == corrupt


def test_a_segment_already_published_then_damaged_is_not_published_again(state, caplog):
    # A roll published the segment, then the process died before deleting it.
    path = _write_journal(state.journal, 200)
    publish_segment(state.layout, INSTANCE, read_segment(path, 1).columns, durable=False)
    published = list_parquet(state.layout.raw)
    flip(path, path.stat().st_size // 3)
    with caplog.at_level(logging.WARNING, logger="ingest"):
        recover_journal(state)
    assert list_parquet(state.layout.raw) == published
    assert [r["seq"] for r in _lake_rows(state.layout)] == list(range(1, 201))
    assert "already in the raw lake, none lost" in caplog.text


def test_a_damaged_magic_header_loses_no_frame(state, caplog):
    path = _write_journal(state.journal, 100, per_batch=3)
    flip(path, 0)
    with caplog.at_level(logging.WARNING, logger="ingest"):
        recover_journal(state)
    assert [r["seq"] for r in _lake_rows(state.layout)] == list(range(1, 101))
    assert (state.damaged / path.name).exists()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "bytes 0..8" in errors[0] and "no frame lost" in errors[0]


def test_an_unreadable_segment_is_kept_and_its_seqs_are_not_reused(state, caplog):
    path = _write_journal(state.journal, 50, first_seq=1000)
    path.write_bytes(bytes(b ^ 0x5A for b in path.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="ingest"):
        result = recover_journal(state)
    assert not list_parquet(state.layout.raw)
    assert (state.damaged / path.name).exists()
    assert "frames from seq 1000 on lost" in caplog.text
    assert result.next_seq > 1049 and state.read_high_water() >= 1049


def test_a_torn_tail_is_cut_with_a_warning_and_the_segment_deleted(state, caplog):
    path = _write_journal(state.journal, 100)
    blob = path.read_bytes()
    path.write_bytes(blob[:-5])
    with caplog.at_level(logging.WARNING, logger="ingest"):
        recover_journal(state)
    assert [r["seq"] for r in _lake_rows(state.layout)] == list(range(1, 100))
    assert "discarded" in caplog.text and "incomplete tail" in caplog.text
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
    assert not path.exists() and not state.damaged.exists()


def test_random_damage_loses_exactly_the_damaged_batches(tmp_path):
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    path = _write_journal(tmp_path / "j", 400, per_batch=5, reconnect_at=200)
    intact = path.read_bytes()
    batches = segment_batches(intact)
    for _ in range(150):
        path.write_bytes(intact)
        offset = rng.randrange(len(MAGIC), batches[-2][1] - 1)
        width = rng.choice([1, 4, 16, 300])
        flip(path, offset, width)
        hit = [b for b in batches if b[0] < offset + width and offset < b[1]]
        if hit[-1] is batches[-1]:
            continue  # damage reaching the last batch is an incomplete tail
        read = read_segment(path, 1)
        table_rows = [r for run in read.runs for r in run.to_table().to_pylist()]
        lost = {s for b in hit for s in b[2]}
        assert [r["seq"] for r in table_rows] == [s for s in range(1, 401) if s not in lost], (
            seed, offset, width,
        )
        assert read.discarded_bytes == 0 and len(read.damaged) == 1
        assert (read.damaged[0].start, read.damaged[0].end) == (hit[0][0], hit[-1][1])
        if lost:
            assert (read.damaged[0].first_lost_seq, read.damaged[0].last_lost_seq) == (
                min(lost), max(lost)
            )
        connection_batch_hit = any(b[3] for b in hit)
        for row in table_rows:
            right = "conn-1" if row["seq"] <= 200 else "conn-2"
            assert row["connection_id"] in (right, "unknown")
            if not connection_batch_hit and payload_only(hit[0], offset, width):
                assert row["connection_id"] == right


def test_resynchronising_a_large_segment_is_fast(tmp_path):
    path = _write_journal(tmp_path / "j", 200_000, per_batch=50)
    size = path.stat().st_size
    flip(path, len(MAGIC) + 20, width=size // 2)  # half the segment unreadable
    started = time.perf_counter()
    read = read_segment(path, 1)
    elapsed = time.perf_counter() - started
    assert read.damaged and 90_000 < read.frames < 110_000
    assert elapsed < 5, f"{elapsed:.1f} s for {size / 2**20:.0f} MiB"


def test_segments_of_the_first_format_are_still_read_and_resynchronised(tmp_path):
    # TRKJNL01: the CRC covers the body only.
    def v1_batch(received_at: int, records: list[tuple[int, int, bytes]]) -> bytes:
        body = b"".join(
            struct.pack("<IBq", len(p), kind, seq) + p for kind, seq, p in records
        )
        return struct.pack("<IIq", len(body), zlib.crc32(body), received_at) + body

    blob = bytearray(MAGIC_V1 + v1_batch(T0, [(RecordKind.CONNECTION, -1, b"c1")]))
    for seq in range(1, 21):
        blob += v1_batch(T0 + seq, [(RecordKind.TEXT_IN, seq, f'{{"n":{seq}}}'.encode())])
    path = tmp_path / "0000000000000001.wal"
    path.write_bytes(bytes(blob))
    assert read_segment(path, 1).columns.to_table().column("seq").to_pylist() == list(
        range(1, 21)
    )
    blob[0] ^= 0xFF  # a damaged header: the reader must find the format by itself
    path.write_bytes(bytes(blob))
    read = read_segment(path, 1)
    assert [run.first_seq for run in read.runs] == [1] and read.frames == 20
    assert read.runs[0].to_table().column("connection_id").to_pylist() == ["c1"] * 20
