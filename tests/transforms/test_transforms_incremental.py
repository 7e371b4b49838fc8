"""Incremental, idempotent, all-or-nothing: the ledger in the warehouse, the dedup rule,
batches, the lock."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import (
    T0,
    RawWriter,
    ledger,
    manual_examples,
    query,
    read_table,
    warehouse_contents,
    write_raw_file,
)

import transforms.pipeline as pipeline
from lake.ducklake import open_warehouse
from lake.errors import TrackitError
from lake.layout import DataLayout
from schemas.core_tables import CORE_TABLES
from transforms.core_store import core_table_ddl
from transforms.ledger import transform_lock
from transforms.pipeline import transform_lake

A = "raw/date=2022-04-02/hour=10/a.parquet"
B = "raw/date=2022-04-02/hour=10/b.parquet"


def records_frame(vid: int, tmx: str, speed: int = 10, **extra: object) -> str:
    return json.dumps({"uid": 1, "params": {"type": "records", "total": 1, "lastRecord": {
        "tmx": tmx, "vid": vid, "loc": {"lat": 38.5, "lon": -9.1}, "gsp": speed,
        "exd": {"io": {"1": 1}}, **extra}}})


def snapshots(data: Path) -> int:
    return query(data, "select count(*) from ducklake_snapshots('warehouse')")[0][0]


def test_a_rerun_transforms_nothing_new(data_dir: Path, write_raw: RawWriter) -> None:
    write_raw([*list(manual_examples().values()), "{bad"])
    first = transform_lake(data_dir)
    assert first.files_processed == 1 and first.loads == [1]
    contents, snapshots_before = warehouse_contents(data_dir), snapshots(data_dir)
    assert sum(len(rows) for rows in contents.values()) > 20

    again = transform_lake(data_dir)
    assert (again.files_processed, again.files_skipped, again.frames) == (0, 1, 0)
    assert again.loads == [] and again.rows_written == 0
    assert warehouse_contents(data_dir) == contents
    assert snapshots(data_dir) == snapshots_before  # not even an empty commit
    assert query(data_dir, "select load_id, files from meta.loads") == [(1, 1)]


def test_a_new_raw_file_is_transformed_once(data_dir: Path, write_raw: RawWriter) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")], name="a")
    assert transform_lake(data_dir).files_processed == 1
    write_raw([records_frame(2, "2022-04-02T10:00:00Z"), "nope"], name="b")
    summary = transform_lake(data_dir)
    assert (summary.files_processed, summary.files_skipped, summary.loads) == (1, 1, [2])
    assert transform_lake(data_dir).files_processed == 0
    assert ledger(data_dir) == {A: (1, 1), B: (2, 2)}
    assert query(data_dir, "select vid, _load_id from core.records order by vid") == [
        (1, 1), (2, 2)]
    assert query(data_dir, "select raw_file, _load_id from core.quarantine") == [(B, 2)]
    assert query(data_dir, "select load_id, files, rows from meta.loads order by 1") == [
        (1, 1, 2), (2, 1, 3)]  # rows: records + record_io (+ the quarantine row)


def test_duplicates_in_a_raw_file_collapse_to_the_first_received(
        data_dir: Path, write_raw: RawWriter) -> None:
    tmx = "2022-04-02T10:00:00.000Z"
    write_raw([records_frame(7, tmx, speed=10), records_frame(7, tmx, speed=99),
               records_frame(7, "2022-04-02T10:00:00Z", speed=50),  # same instant
               records_frame(8, tmx)])
    summary = transform_lake(data_dir)
    records = read_table(data_dir, "records")
    assert sorted(records["vid"]) == [7, 8]
    assert records.filter(records["vid"] == 7)["speed_kmh"].to_list() == [10.0]
    assert summary.duplicates["records"] == 2 and summary.duplicate_frames == 2
    assert read_table(data_dir, "record_io").height == 2
    assert summary.reconciles


def _write_early(data: Path) -> None:
    write_raw_file(data, [records_frame(7, "2022-04-02T09:59:00Z", speed=10),
                          records_frame(8, "2022-04-02T09:59:00Z", speed=20)],
                   name="b-early", start=T0, seq0=100)


def _write_late(data: Path) -> None:
    write_raw_file(data, [records_frame(7, "2022-04-02T09:59:00Z", speed=99),
                          records_frame(9, "2022-04-02T09:59:00Z", speed=30)],
                   name="a-late", start=T0 + timedelta(minutes=30), seq0=200)


@pytest.mark.parametrize("order", [
    "one batch", "two batches, late file first", "early run, then late run",
    "late run, then early run"])
def test_the_same_key_in_two_raw_files_keeps_the_row_received_first(
        data_dir: Path, order: str) -> None:
    if order == "one batch":
        _write_early(data_dir), _write_late(data_dir)
        transform_lake(data_dir)
    elif order == "two batches, late file first":  # a-late sorts before b-early
        _write_early(data_dir), _write_late(data_dir)
        assert transform_lake(data_dir, batch_frames=2).loads == [1, 2]
    else:
        writers = [_write_early, _write_late]
        for write in writers if order.startswith("early") else writers[::-1]:
            write(data_dir)
            transform_lake(data_dir)
    assert query(data_dir, "select vid, speed_kmh, seq from core.records order by vid") == [
        (7, 10.0, 100), (8, 20.0, 101), (9, 30.0, 201)]
    assert query(data_dir, "select vid, seq from core.record_io order by vid") == [
        (7, 100), (8, 101), (9, 201)]
    assert len(ledger(data_dir)) == 2


def test_a_batch_is_stored_whole_or_not_at_all(tmp_path: Path, data_dir: Path) -> None:
    """A DuckDB error while a batch is stored (here a NOT NULL the warehouse's events table
    was created with) rolls back the batch's rows of every table and its ledger entries."""
    clean = tmp_path / "clean"
    for data in (data_dir, clean):
        write_raw_file(data, [records_frame(1, "2022-04-02T10:00:00Z")], name="a")
        write_raw_file(data, [records_frame(2, "2022-04-02T10:00:00Z"),
                              manual_examples()["event-io"][1]], name="b")
    transform_lake(clean, batch_frames=1)
    with open_warehouse(data_dir) as con:
        con.execute("create schema core")
        con.execute(core_table_ddl(CORE_TABLES["events"]).replace(
            "extra VARCHAR", "extra VARCHAR not null"))

    with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
        transform_lake(data_dir, batch_frames=1)  # batch a, then batch b
    assert ledger(data_dir) == {A: (1, 1)}
    assert query(data_dir, "select vid from core.records") == [(1,)]
    assert query(data_dir, "select count(*) from core.record_io") == [(1,)]

    with open_warehouse(data_dir) as con:
        con.execute("drop table core.events")  # the next run creates it as declared
    rerun = transform_lake(data_dir, batch_frames=1)
    assert (rerun.files_processed, rerun.files_skipped) == (1, 1)
    assert warehouse_contents(data_dir) == warehouse_contents(clean)  # once, no duplicate
    assert ledger(data_dir).keys() == {A, B}


def test_batches_bound_the_work(data_dir: Path, write_raw: RawWriter) -> None:
    for i in range(3):
        write_raw([records_frame(i, "2022-04-02T10:00:00Z")] * 2, name=f"f{i}")
    files = sorted((data_dir / "raw").rglob("*.parquet"))
    assert pipeline.plan_batches(files, 4) == [files[:2], files[2:]]
    summary = transform_lake(data_dir, batch_frames=4)
    assert summary.files_processed == 3 and summary.loads == [1, 2]
    assert sorted({load for _, load in ledger(data_dir).values()}) == [1, 2]


def test_unknown_fields_survive_in_extra(data_dir: Path, write_raw: RawWriter) -> None:
    frame = json.dumps({"uid": 1, "region": "eu", "params": {
        "type": "records", "total": 1, "priority": 2, "lastRecord": {
            "tmx": "2022-04-02T10:00:00Z", "vid": 5, "loc": {"lat": 1, "lon": 2, "acc": 3.5},
            "exd": {"eco": {"rpm": 900, "co2": {"g": 12}}, "io": {"1": 0}},
            "newField": [1, 2]}}})
    write_raw([frame, json.dumps({"uid": 9, "params": {"type": "connection", "status": 0,
                                                       "reason": "timeout"}})])
    transform_lake(data_dir)
    record = read_table(data_dir, "records").row(0, named=True)
    assert json.loads(record["extra"]) == {
        "region": "eu", "params.priority": 2, "params.lastRecord.newField": [1, 2],
        "params.lastRecord.loc.acc": 3.5, "params.lastRecord.exd.eco.co2": {"g": 12}}
    assert record["rpm"] == 900
    connection = read_table(data_dir, "connections").row(0, named=True)
    assert json.loads(connection["extra"]) == {"params.reason": "timeout"}


def test_known_fields_holding_null_do_not_make_extra(data_dir: Path,
                                                     write_raw: RawWriter) -> None:
    write_raw([manual_examples()["pnd-msg"]])
    transform_lake(data_dir)
    assert read_table(data_dir, "driver_messages")["extra"].to_list() == [None]


def test_a_second_run_at_the_same_time_is_refused(data_dir: Path,
                                                  write_raw: RawWriter) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")])
    with transform_lock(DataLayout(data_dir)), pytest.raises(TrackitError, match="another"):
        transform_lake(data_dir)


def test_counts_that_do_not_add_up_fail_loudly_and_store_nothing(
        data_dir: Path, write_raw: RawWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")])
    real = pipeline.raw_frame_count
    monkeypatch.setattr(pipeline, "raw_frame_count", lambda files: real(files) + 1)
    with pytest.raises(TrackitError, match="does not reconcile"):
        transform_lake(data_dir)
    assert ledger(data_dir) == {}
    assert query(data_dir, "select count(*) from core.records") == [(0,)]


def test_raw_files_of_the_same_name_in_two_hours_both_load(data_dir: Path,
                                                           write_raw: RawWriter) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")], name="same")
    write_raw([records_frame(2, "2022-04-02T11:00:00Z"), "nope"], name="same",
              start=T0.replace(hour=11))
    summary = transform_lake(data_dir)
    assert summary.files_processed == 2 and summary.reconciles
    assert sorted(read_table(data_dir, "records")["vid"]) == [1, 2]
    assert ledger(data_dir).keys() == {"raw/date=2022-04-02/hour=10/same.parquet",
                                       "raw/date=2022-04-02/hour=11/same.parquet"}
    assert query(data_dir, "select raw_file from core.quarantine") == [
        ("raw/date=2022-04-02/hour=11/same.parquet",)]
    assert transform_lake(data_dir).files_processed == 0


def test_quarantined_frames_of_two_raw_files_with_the_same_seq_are_both_kept(
        data_dir: Path, write_raw: RawWriter) -> None:
    """Two ingest instances number their frames independently: a seq is only unique
    within a raw file."""
    write_raw(["not json"], name="instance-a")
    write_raw(["not json either"], name="instance-b")
    transform_lake(data_dir)
    assert query(data_dir, "select seq, frame from core.quarantine order by frame") == [
        (0, "not json"), (0, "not json either")]
    transform_lake(data_dir)
    assert query(data_dir, "select count(*) from core.quarantine") == [(2,)]


def test_an_unreadable_raw_file_is_reported_by_name(data_dir: Path,
                                                    write_raw: RawWriter) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")], name="good-a")
    path = write_raw([records_frame(2, "2022-04-02T10:00:01Z")], name="broken")
    write_raw([records_frame(3, "2022-04-02T10:00:02Z")], name="good-b")
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(TrackitError, match=f"cannot read raw file {re.escape(str(path))}: "):
        transform_lake(data_dir)
    assert ledger(data_dir) == {}
