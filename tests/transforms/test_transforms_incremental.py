"""Incremental, idempotent, crash-safe: the ledger, deterministic files, dedup, the lock."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from conftest import T0, RawWriter, manual_examples, read_table

import transforms.pipeline as pipeline
from lake.errors import TrackitError
from lake.layout import DataLayout
from transforms.ledger import load_ledger, transform_lock
from transforms.pipeline import transform_lake


def outputs(data: Path) -> dict[str, str]:
    return {
        p.relative_to(data).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in ("core", "quarantine") for p in sorted((data / folder).rglob("*"))
        if p.is_file()
    }


def records_frame(vid: int, tmx: str, speed: int = 10, **extra: object) -> str:
    return json.dumps({"uid": 1, "params": {"type": "records", "total": 1, "lastRecord": {
        "tmx": tmx, "vid": vid, "loc": {"lat": 38.5, "lon": -9.1}, "gsp": speed,
        "exd": {"io": {"1": 1}}, **extra}}})


def test_rerun_changes_nothing_and_a_forced_redo_is_byte_identical(
        data_dir: Path, write_raw: RawWriter) -> None:
    write_raw([*list(manual_examples().values()), "{bad"])
    transform_lake(data_dir)
    first = outputs(data_dir)
    assert len(first) > 10

    again = transform_lake(data_dir)
    assert (again.files_processed, again.files_skipped, again.frames) == (0, 1, 0)
    assert outputs(data_dir) == first

    (data_dir / "state" / "transform" / "ledger.json").unlink()
    redo = transform_lake(data_dir)
    assert redo.files_processed == 1
    assert outputs(data_dir) == first


def test_only_new_raw_files_are_read(data_dir: Path, write_raw: RawWriter) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")], name="a")
    assert transform_lake(data_dir).files_processed == 1
    write_raw([records_frame(2, "2022-04-02T10:00:00Z")], name="b")
    summary = transform_lake(data_dir)
    assert (summary.files_processed, summary.files_skipped) == (1, 1)
    assert sorted(read_table(data_dir, "records")["vid"]) == [1, 2]
    assert set(load_ledger(DataLayout(data_dir))) == {
        "raw/date=2022-04-02/hour=10/a.parquet", "raw/date=2022-04-02/hour=10/b.parquet"}


def test_one_output_file_per_raw_file_named_after_it(data_dir: Path,
                                                      write_raw: RawWriter) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z"), "nope"], name="ingest-x-000042")
    transform_lake(data_dir)
    assert (data_dir / "core/records/date=2022-04-02/hour=10__ingest-x-000042.parquet").exists()
    assert (data_dir / "core/record_io/date=2022-04-02/hour=10__ingest-x-000042.parquet").exists()
    assert (data_dir / "quarantine/date=2022-04-02/hour=10__ingest-x-000042.parquet").exists()


def test_duplicates_collapse_to_the_first_received(data_dir: Path,
                                                   write_raw: RawWriter) -> None:
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


def test_a_crash_before_the_ledger_leaves_the_batch_to_redo(
        data_dir: Path, write_raw: RawWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")], name="a")
    write_raw([records_frame(2, "2022-04-02T10:00:00Z")], name="b")

    def crash(layout: DataLayout, files: dict[str, int]) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(pipeline, "save_ledger", crash)
    with pytest.raises(RuntimeError):
        transform_lake(data_dir, batch_frames=1)
    monkeypatch.undo()
    summary = transform_lake(data_dir, batch_frames=1)
    assert summary.files_processed == 2
    assert sorted(read_table(data_dir, "records")["vid"]) == [1, 2]
    leftovers = [p for p in data_dir.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_batches_bound_the_work(data_dir: Path, write_raw: RawWriter) -> None:
    for i in range(3):
        write_raw([records_frame(i, "2022-04-02T10:00:00Z")] * 2, name=f"f{i}")
    assert pipeline.plan_batches(sorted((data_dir / "raw").rglob("*.parquet")), 4) == [
        sorted((data_dir / "raw").rglob("*.parquet"))[:2],
        sorted((data_dir / "raw").rglob("*.parquet"))[2:]]
    assert transform_lake(data_dir, batch_frames=4).files_processed == 3


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


def test_counts_that_do_not_add_up_fail_loudly(
        data_dir: Path, write_raw: RawWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")])
    real = pipeline.raw_frame_count
    monkeypatch.setattr(pipeline, "raw_frame_count", lambda files: real(files) + 1)
    with pytest.raises(TrackitError, match="does not reconcile"):
        transform_lake(data_dir)
    assert not (data_dir / "core").exists()  # nothing of the batch published


def test_received_at_partition_is_the_raw_files(data_dir: Path, write_raw: RawWriter) -> None:
    write_raw([records_frame(1, "2021-01-01T00:00:00Z")], start=T0)
    transform_lake(data_dir)
    assert list((data_dir / "core/records").iterdir()) == [
        data_dir / "core/records/date=2022-04-02"]


def test_raw_files_of_the_same_name_in_two_hours_both_load(data_dir: Path,
                                                           write_raw: RawWriter) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")], name="same")
    write_raw([records_frame(2, "2022-04-02T11:00:00Z")], name="same",
              start=T0.replace(hour=11))
    summary = transform_lake(data_dir)
    assert summary.files_processed == 2 and summary.reconciles
    assert sorted(read_table(data_dir, "records")["vid"]) == [1, 2]
    assert sorted(p.name for p in (data_dir / "core/records/date=2022-04-02").iterdir()) == [
        "hour=10__same.parquet", "hour=11__same.parquet"]
    first = outputs(data_dir)
    (data_dir / "state" / "transform" / "ledger.json").unlink()
    transform_lake(data_dir)
    assert outputs(data_dir) == first  # idempotent


def test_raw_files_whose_outputs_would_collide_are_refused(data_dir: Path,
                                                           write_raw: RawWriter) -> None:
    # only folder names holding the separator can make two paths meet
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")], name="a__b")
    odd = data_dir / "raw/date=2022-04-02/hour=10__a"
    odd.mkdir(parents=True)
    (data_dir / "raw/date=2022-04-02/hour=10/a__b.parquet").rename(odd / "b.parquet")
    write_raw([records_frame(2, "2022-04-02T10:00:00Z")], name="a__b")
    with pytest.raises(TrackitError, match="would collide"):
        transform_lake(data_dir)


def test_redo_of_a_core_file_with_a_bare_stem_name_replaces_it(
        data_dir: Path, write_raw: RawWriter) -> None:
    """A core lake whose files were named after the raw file's bare stem."""
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")], name="old")
    transform_lake(data_dir)
    folder = data_dir / "core/records/date=2022-04-02"
    legacy = folder / "old.parquet"
    (folder / "hour=10__old.parquet").rename(legacy)
    transform_lake(data_dir, redo=[legacy])
    assert [p.name for p in folder.iterdir()] == ["hour=10__old.parquet"]
    assert read_table(data_dir, "records")["vid"].to_list() == [1]


def test_an_unreadable_raw_file_is_reported_by_name(data_dir: Path,
                                                    write_raw: RawWriter) -> None:
    write_raw([records_frame(1, "2022-04-02T10:00:00Z")], name="good-a")
    path = write_raw([records_frame(2, "2022-04-02T10:00:01Z")], name="broken")
    write_raw([records_frame(3, "2022-04-02T10:00:02Z")], name="good-b")
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(TrackitError, match=f"cannot read raw file {re.escape(str(path))}: "):
        transform_lake(data_dir)
