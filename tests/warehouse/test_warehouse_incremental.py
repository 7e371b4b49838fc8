"""A build reads the new core data plus what it needs around it, not the whole history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sample_fleet import (
    DEFAULT_START,
    FleetSpec,
    generate,
    rows_received_before,
    store_core_rows,
)
from warehouse_handmade import assert_checks_passed, at, mart_rows, query, record, write

from warehouse.build import build_warehouse

# builds on the DuckLake take minutes on a loaded 2-core machine
pytestmark = pytest.mark.timeout(1200)

DAYS = 3


def test_adding_an_hour_reads_only_the_new_rows_and_the_trips_around_them(
    tmp_path: Path,
) -> None:
    spec = FleetSpec(start=DEFAULT_START, hours=DAYS * 24 + 12, vehicles=4, late_share=0)
    tables = generate(spec)
    history_end = DEFAULT_START + timedelta(days=DAYS, hours=11)
    store_core_rows(tmp_path, rows_received_before(tables, history_end))
    build_warehouse(tmp_path)
    total_records = query(tmp_path, "select count(*) as n from core.records")[0]["n"]

    trips_before = query(tmp_path, "select * from marts.trips order by trip_id")
    loads = store_core_rows(tmp_path, rows_received_before(
        tables, history_end + timedelta(hours=1), since=history_end))
    second = build_warehouse(tmp_path)

    assert second.marts.load_id == loads[-1]
    new_records = query(tmp_path, "select count(*) as n from core.records "
                                  f"where _load_id >= {loads[0]}")[0]["n"]
    assert 0 < new_records < total_records / 20
    # the marts read the new hour plus the trips it may extend: well under the history
    assert second.marts.records_read < total_records / 10
    assert second.marts.vehicles_rebuilt == spec.vehicles
    # and the checks validate the rows the build touched, not the whole history
    assert second.checks is not None
    assert second.checks.rows_validated["trips"] < len(trips_before) / 5
    assert_checks_passed(tmp_path)
    # trips that ended well before the new hour are exactly as they were
    old = [t for t in trips_before if t["end_time"] < history_end - timedelta(hours=3)]
    after = {t["trip_id"]: t for t in query(tmp_path, "select * from marts.trips")}
    assert len(old) > 20
    assert all(after[t["trip_id"]] == t for t in old)

    third = build_warehouse(tmp_path)
    assert third.marts.load_id is None and third.snapshot is None


def test_duplicates_across_loads_keep_the_row_received_first_whatever_the_load_order(
    tmp_path: Path,
) -> None:
    first = record(5, 0, 0, 10.0, received_delay_s=1, seq=1)
    again = {**record(5, 0, 0, 99.0, received_delay_s=50, seq=9)}  # same (vid, tmx)
    quarantined = {"received_at": at(3), "raw_file": "hour=00/a.parquet", "seq": 4,
                   "frame": "{not json", "stage": "parse",
                   "reason": "invalid JSON"}
    write(tmp_path / "a", records=[again])
    write(tmp_path / "a", records=[first], quarantine=[quarantined])
    write(tmp_path / "b", records=[first])
    build_warehouse(tmp_path / "a")
    build_warehouse(tmp_path / "b")
    write(tmp_path / "b", records=[again])  # arrives after a build
    build_warehouse(tmp_path / "b")
    for data in (tmp_path / "a", tmp_path / "b"):
        assert query(data, "select speed_kmh, seq from core.records") == [
            {"speed_kmh": 10.0, "seq": 1}]
    assert mart_rows(tmp_path / "a") == mart_rows(tmp_path / "b")
    assert query(tmp_path / "a", "select reason from core.quarantine") == [
        {"reason": "invalid JSON"}]
