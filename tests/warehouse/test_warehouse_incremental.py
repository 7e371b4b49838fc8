"""A build reads the new core data plus what it needs around it, not the whole history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sample_fleet import (
    DEFAULT_START,
    FleetSpec,
    generate,
    rows_received_before,
    store_core_rows,
)
from warehouse_handmade import query

from warehouse.build import build_warehouse

DAYS = 3


def test_adding_an_hour_reads_only_the_new_files_and_the_trips_around_them(
    tmp_path: Path,
) -> None:
    spec = FleetSpec(start=DEFAULT_START, hours=DAYS * 24 + 12, vehicles=4, late_share=0)
    tables = generate(spec)
    history_end = DEFAULT_START + timedelta(days=DAYS, hours=11)
    store_core_rows(tmp_path, rows_received_before(tables, history_end))
    first = build_warehouse(tmp_path)
    total_records = first.load.rows_read["records"]
    files_before = first.load.files

    trips_before = query(tmp_path, "select * from marts.trips order by trip_id")
    store_core_rows(tmp_path, rows_received_before(tables, history_end + timedelta(hours=1),
                                                   since=history_end))
    second = build_warehouse(tmp_path)

    new_records = second.load.rows_read["records"]
    assert second.load.files < files_before / 10  # only the new hour's files
    assert 0 < new_records < total_records / 20
    # the marts read the new hour plus the trips it may extend: well under the history
    assert second.marts.records_read < total_records / 10
    assert second.marts.vehicles_rebuilt == spec.vehicles
    # trips that ended well before the new hour are exactly as they were
    old = [t for t in trips_before if t["end_time"] < history_end - timedelta(hours=3)]
    after = {t["trip_id"]: t for t in query(tmp_path, "select * from marts.trips")}
    assert len(old) > 20
    assert all(after[t["trip_id"]] == t for t in old)

    third = build_warehouse(tmp_path)
    assert third.load.nothing_new and third.marts.load_id is None
    assert not third.publish.published


def test_duplicates_across_files_keep_the_row_received_first_whatever_the_load_order(
    tmp_path: Path,
) -> None:
    from warehouse_handmade import at, record, write

    first = record(5, 0, 0, 10.0, received_delay_s=1, seq=1)
    again = {**record(5, 0, 0, 99.0, received_delay_s=50, seq=9)}  # same (vid, tmx)
    quarantined = {"received_at": at(3), "seq": 4, "frame": "{not json", "stage": "parse",
                   "reason": "invalid JSON"}
    write(tmp_path / "a", "late", records=[again])
    write(tmp_path / "a", "early", records=[first], quarantine=[quarantined])
    write(tmp_path / "b", "early", records=[first])
    build_warehouse(tmp_path / "a")
    build_warehouse(tmp_path / "b")
    write(tmp_path / "b", "late", records=[again])  # arrives in a later build
    summary = build_warehouse(tmp_path / "b")
    assert summary.load.rows_written["records"] == 0  # nothing replaced
    for data in (tmp_path / "a", tmp_path / "b"):
        assert query(data, "select speed_kmh, seq from core.records") == [
            {"speed_kmh": 10.0, "seq": 1}]
    assert query(tmp_path / "a", "select reason from core.quarantine") == [
        {"reason": "invalid JSON"}]


def test_a_rewritten_core_file_and_a_late_file_in_an_old_folder_are_loaded(
    tmp_path: Path,
) -> None:
    from warehouse_handmade import record, write

    write(tmp_path, records=[record(5, 0, 0, 10.0)])
    build_warehouse(tmp_path)
    # the transform reran and republished the same file with one more row
    write(tmp_path, records=[record(5, 0, 0, 10.0), record(5, 60, 0, 0.0)])
    # and a late file lands in the same (already listed) date folder
    write(tmp_path, records=[record(5, 120, 0, 0.0)])
    again = build_warehouse(tmp_path)
    assert again.load.files == 2
    assert query(tmp_path, "select count(*) as n from core.records") == [{"n": 3}]
    assert build_warehouse(tmp_path).load.nothing_new
