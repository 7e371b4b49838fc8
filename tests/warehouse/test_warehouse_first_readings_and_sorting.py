"""The build's own state for speed: the first reading of every input, and sorted mart files.

``meta.io_first_readings`` lets io_changes and io_state start an input's history without
scanning all of core; it must equal the first reading computed from core, also when it is
filled for a warehouse that never had it. Marts declare ``sorted_by`` so that their data
files are written in time order (a window's scan then skips older files).
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sample_fleet import DEFAULT_START, FleetSpec, generate, rows_received_before, store_core_rows
from warehouse_handmade import mart_rows, query

from lake.ducklake import writing_warehouse
from marts import MARTS
from warehouse.build import build_warehouse

pytestmark = pytest.mark.timeout(1200)

SPEC = FleetSpec(start=DEFAULT_START, hours=30, vehicles=3, late_share=0.1)
HALF = DEFAULT_START + timedelta(hours=15)

FIRST_READINGS_FROM_CORE = """
    select uid, io, min(tmx) as first_seen, arg_min(value, tmx) as first_value
    from (
        select uid, io, tmx, value from core.record_io where value is not null
        union all select uid, io, tmx, level from core.io_events where level is not null
        union all select uid, io, tmx, level from core.io_snapshots where level is not null
    )
    group by uid, io
    order by uid, io
"""


def _built_in_two_loads(data: Path) -> None:
    tables = generate(SPEC)
    store_core_rows(data, rows_received_before(tables, HALF))
    build_warehouse(data)
    store_core_rows(data, rows_received_before(tables, SPEC.start + timedelta(hours=40),
                                               since=HALF))
    build_warehouse(data)


def test_first_readings_equal_core_and_are_refilled_for_a_warehouse_without_them(
    tmp_path: Path,
) -> None:
    data = tmp_path / "incremental"
    _built_in_two_loads(data)
    stored = query(data, "select uid, io, first_seen, first_value "
                         "from meta.io_first_readings order by uid, io")
    assert stored and stored == query(data, FIRST_READINGS_FROM_CORE)

    # a warehouse built before the table existed: empty table, no watermark
    refilled = tmp_path / "refilled"
    tables = generate(SPEC)
    store_core_rows(refilled, rows_received_before(tables, HALF))
    build_warehouse(refilled)
    with writing_warehouse(refilled) as con:
        con.execute("begin transaction")
        con.execute("delete from meta.io_first_readings")
        con.execute("delete from meta.state where name = 'io_first_readings_load_id'")
        con.execute("commit")
    store_core_rows(refilled, rows_received_before(tables, SPEC.start + timedelta(hours=40),
                                                   since=HALF))
    build_warehouse(refilled)
    assert query(refilled, "select uid, io, first_seen, first_value "
                           "from meta.io_first_readings order by uid, io") == stored
    assert mart_rows(refilled, ["io_changes", "io_state"]) == mart_rows(
        data, ["io_changes", "io_state"])


def test_mart_files_are_written_sorted_by_their_time(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _built_in_two_loads(data)
    checked = 0
    for name, mart in MARTS.items():
        if mart.sorted_by is None:
            continue
        folder = data / "warehouse" / "data" / "marts" / name
        for file in sorted(folder.glob("*.parquet")):
            column = pq.read_table(file, columns=[mart.sorted_by]).column(0).to_pylist()
            if any(value is None for value in column):
                continue
            assert column == sorted(column), f"{file.name} of marts.{name} is not sorted"
            checked += len(column) > 1
    assert checked >= 5


def test_the_sort_order_is_declared_once_not_every_build(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _built_in_two_loads(data)
    declared = query(data, "select name from meta.state where name like 'sorted_by:%'")
    assert {row["name"] for row in declared} == {
        f"sorted_by:{name}" for name, mart in MARTS.items() if mart.sorted_by}
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    assert build_warehouse(copy).snapshot is None  # nothing new: no snapshot at all
