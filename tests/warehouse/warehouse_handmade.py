"""Hand-made core rows with known answers, and a way to build and read the marts.

Positions move east along a parallel: ``east_m(metres)`` gives the longitude that far from
the origin, so distances are known to the metre.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sample_fleet import store_core_rows

from lake.ducklake import open_warehouse, writing_warehouse
from marts import MARTS
from warehouse.build import BuildSummary, build_warehouse
from warehouse.config import WarehouseConfig

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LAT = 38.7
LON = -9.1
METRES_PER_DEGREE_LON = 2 * math.pi * 6371008.8 * math.cos(math.radians(LAT)) / 360


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def east(metres: float) -> float:
    """Longitude ``metres`` east of the origin (the haversine of it is ~ ``metres``)."""
    return LON + metres / METRES_PER_DEGREE_LON


def record(vid: int, seconds: float, metres: float, speed: float, *,
           odometer: float | None = None, uid: int | None = None,
           received_delay_s: float = 2, seq: int = 0, rpm: int | None = None) -> dict[str, Any]:
    """One core.records row ``seconds`` after T0, ``metres`` east of the origin."""
    return {
        "uid": uid if uid is not None else vid + 1000, "vid": vid, "tmx": at(seconds),
        "received_at": at(seconds + received_delay_s), "source": "records",
        "lat": LAT, "lon": east(metres), "speed_kmh": float(speed),
        "odometer": None if odometer is None else int(odometer),
        "rpm": rpm, "driver_card": "0000001993887010", "seq": seq,
    }


def drive(vid: int, start_s: float, seconds: float, *, start_m: float = 0,
          speed_kmh: float = 36, every_s: float = 30, odometer0: float | None = 0,
          **kw: Any) -> list[dict[str, Any]]:
    """Records of a straight drive at constant speed, one every ``every_s``."""
    rows = []
    steps = int(seconds // every_s)
    for i in range(steps + 1):
        metres = start_m + speed_kmh / 3.6 * every_s * i
        odo = None if odometer0 is None else odometer0 + (metres - start_m)
        rows.append(record(vid, start_s + every_s * i, metres, speed_kmh, odometer=odo, **kw))
    return rows


def parked(vid: int, start_s: float, seconds: float, *, at_m: float,
           odometer: float | None, every_s: float = 60, **kw: Any) -> list[dict[str, Any]]:
    """Records of a vehicle standing still at ``at_m``."""
    return [
        record(vid, start_s + every_s * i, at_m, 0, odometer=odometer, **kw)
        for i in range(int(seconds // every_s) + 1)
    ]


def ignition(row: dict[str, Any], value: float) -> dict[str, Any]:
    """A core.record_io row: the ignition input (I/O 1) read with the record ``row``."""
    return {"vid": row["vid"], "uid": row["uid"], "tmx": row["tmx"], "io": 1,
            "value": value, "received_at": row["received_at"], "seq": row["seq"]}


def write(data_dir: Path, **tables: Iterable[dict[str, Any]]) -> None:
    """Store hand-made rows in the core tables (one load per receive hour)."""
    store_core_rows(data_dir, {name: list(rows) for name, rows in tables.items()})


def build(data_dir: Path, config: WarehouseConfig | None = None) -> BuildSummary:
    """Build the marts (and check them) around the rows stored since the last build."""
    return build_warehouse(data_dir, config=config)


def query(data_dir: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of ``sql`` on the warehouse, as dicts."""
    con = open_warehouse(data_dir, read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def latest_check(data_dir: Path) -> dict[str, Any]:
    """The verdict of the latest build's checks (the latest ``meta.checks`` row)."""
    rows = query(data_dir, "select * from meta.checks order by checked_at desc limit 1")
    assert rows, f"no build of {data_dir} has run its checks"
    return rows[0]


def assert_checks_passed(data_dir: Path) -> dict[str, Any]:
    """The latest build's checks passed (their verdict, for more assertions)."""
    verdict = latest_check(data_dir)
    assert verdict["passed"] and verdict["failures"] == [], verdict
    assert verdict["rows_validated"] > 0 and verdict["reconciliations"] > 0, verdict
    return verdict


def tamper(data_dir: Path, sql: str) -> None:
    """Simulate a bug in a mart: change committed rows with a writer connection."""
    with writing_warehouse(data_dir) as con:
        con.execute(sql)


def trips(data_dir: Path) -> list[dict[str, Any]]:
    return query(data_dir, "select * from marts.trips order by vid, start_time")


def stops(data_dir: Path) -> list[dict[str, Any]]:
    return query(data_dir, "select * from marts.stops order by vid, start_time")


def mart_rows(data_dir: Path, marts: Iterable[str] = tuple(MARTS)) -> dict[str, list[tuple]]:
    """Every row of each mart, in a canonical order and printed form (for comparisons)."""
    con = open_warehouse(data_dir, read_only=True)
    try:
        return {
            mart: [tuple(map(repr, row))
                   for row in con.execute(f"select * from marts.{mart} order by all").fetchall()]
            for mart in marts
        }
    finally:
        con.close()


def build_in_slices(data_dir: Path, tables: dict[str, list[dict[str, Any]]], every_s: float,
                    config: WarehouseConfig | None = None) -> int:
    """Store and build ``tables`` one slice of receive time at a time; the builds."""
    received = [r["received_at"] for rows in tables.values() for r in rows]
    since, last = min(received), max(received)
    builds = 0
    while since <= last:
        until = since + timedelta(seconds=every_s)
        batch = {name: [r for r in rows if since <= r["received_at"] < until]
                 for name, rows in tables.items()}
        batch = {name: rows for name, rows in batch.items() if rows}
        if batch:
            write(data_dir, **batch)
            build(data_dir, config)
            builds += 1
        since = until
    return builds
