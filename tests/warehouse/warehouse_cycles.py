"""Hour-by-hour warehouse cycles for the snapshot, maintenance and crash tests.

A small synthetic fleet (``sample_fleet``) is stored one receive hour at a time, as the
transform would, and built with a few marts only (``MARTS_BUILT``), so twenty cycles take
seconds. ``table_contents`` reads what a reader compares: every row of a table, ordered.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
from sample_fleet import (
    DEFAULT_START,
    FleetSpec,
    Row,
    generate,
    rows_received_before,
    store_core_rows,
)

from marts import MARTS

FLEET = FleetSpec(start=DEFAULT_START + timedelta(hours=7), hours=24, vehicles=2)
MARTS_BUILT = {name: MARTS[name] for name in ("io_changes", "io_state", "trips", "stops")}
CORE_COMPARED = ("records", "record_io", "io_events", "events")


def fleet_rows() -> dict[str, list[Row]]:
    return generate(FLEET)


def store_hour(data: Path, rows: dict[str, list[Row]], hour: int) -> None:
    """Store the rows received in hour ``hour`` of the fleet (hour 0: all before it)."""
    since = FLEET.start + timedelta(hours=hour) if hour else None
    until = FLEET.start + timedelta(hours=hour + 1)
    hour_rows = rows_received_before(rows, until, since)
    if hour_rows:
        store_core_rows(data, hour_rows)


def table_contents(con: duckdb.DuckDBPyConnection, table: str,
                   exclude: tuple[str, ...] = ("_load_id",)) -> list[tuple]:
    """Every row of ``table`` (``core.records``), ordered, without the load-id columns."""
    columns = [c for (c,) in con.execute(
        "select column_name from (describe " + table + ")").fetchall() if c not in exclude]
    return con.execute(f"select {', '.join(columns)} from {table} order by all").fetchall()
