"""A long history made in bulk (``sample_fleet.repeat_history_back``) is a valid warehouse."""

from __future__ import annotations

from pathlib import Path

from sample_fleet import DEFAULT_START, FleetSpec, generate, repeat_history_back, store_core_rows
from warehouse_handmade import query

from warehouse.build import build_warehouse


def test_days_copied_back_keep_keys_unique_and_odometers_increasing(tmp_path: Path) -> None:
    tables = generate(FleetSpec(start=DEFAULT_START, hours=22, vehicles=2, late_share=0))
    store_core_rows(tmp_path, tables)
    day = {name: len(rows) for name, rows in tables.items()}
    loads = repeat_history_back(tmp_path, 3)
    assert len(loads) == 3
    for name, rows in day.items():
        assert query(tmp_path, f"select count(*) as n from core.{name}")[0]["n"] == 4 * rows
    assert query(tmp_path, "select count(*) - count(distinct event_id) as d from core.events"
                 )[0]["d"] == 0
    assert query(tmp_path, """
        select count(*) as n from (
            select odometer < lag(odometer) over (partition by vid order by tmx) as back
            from core.records)
        where back""")[0]["n"] == 0
    span = query(tmp_path, "select max(tmx) - min(tmx) as s from core.records")[0]["s"]
    assert span.days == 3
    built = build_warehouse(tmp_path)
    assert built.checks is not None and built.checks.failures == []
    assert query(tmp_path, "select count(distinct (start_time at time zone 'UTC')::date) as n "
                 "from marts.trips")[0]["n"] == 4
