"""The mart framework on a real warehouse: a mart added in one module is built, checked and
committed; the macros and the build's settings live in the warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pytest
from warehouse_handmade import drive, parked, tamper, write

from lake.ducklake import open_warehouse
from marts import MARTS, build_order, discover
from warehouse.build import build_warehouse
from warehouse.checks import WarehouseCheckError
from warehouse.config import WarehouseConfig

EXTRA_MART = '''
"""marts.trip_counts: per vehicle, its trips and their distance (a test mart)."""

from marts.model import Mart, MartColumn, Reconciliation, RowCheck, Scope, read_sql

MART = Mart(
    name="trip_counts",
    grain="vehicle",
    columns=(
        MartColumn("vid", "bigint", False, unique=True),
        MartColumn("trips", "bigint", False, "closed and open trips", ge=1),
        MartColumn("distance_km", "double", False, ge=0),
    ),
    sql=read_sql(__file__),
    scope=Scope(
        windows="trip_windows",
        delete="delete from marts.trip_counts where vid in (select vid from trip_windows)",
        touched_since="select min(window_start) from trip_windows",
        touched_rows="vid in (select vid from marts.trips where end_time >= $since)",
    ),
    reads=("marts.trips",),
    row_checks=(RowCheck("some_distance", "distance_km > 0"),),
    reconciliations=(Reconciliation("trip_counts count the trips", """
        select c.vid from marts.trip_counts as c
        left join (select vid, count(*) as n from marts.trips group by vid) as t using (vid)
        where c.trips <> coalesce(t.n, 0)
    """),),
)
'''

EXTRA_SQL = """
select vid, count(*) as trips, sum(distance_km) as distance_km
from marts.trips
where vid in (select vid from trip_windows)
group by vid
"""


def a_trip(vid: int, start_s: float = 0) -> list[dict]:
    return drive(vid, start_s, 600, odometer0=0) + parked(vid, start_s + 630, 900, at_m=6000,
                                                          odometer=6000)


def reader(data_dir: Path) -> duckdb.DuckDBPyConnection:
    return open_warehouse(data_dir, read_only=True)


@pytest.fixture
def extra_marts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A package ``extra_marts`` holding one new mart: a module and its SQL, nothing else."""
    package = tmp_path / "code" / "extra_marts"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "trip_counts.py").write_text(textwrap.dedent(EXTRA_MART))
    (package / "trip_counts.sql").write_text(EXTRA_SQL)
    monkeypatch.syspath_prepend(str(package.parent))
    return discover("extra_marts")


def test_a_mart_declared_in_one_module_is_built_checked_and_committed(
    tmp_path: Path, extra_marts: dict
) -> None:
    data = tmp_path / "data"
    marts = {**MARTS, **extra_marts}
    order = [m.name for m in build_order(marts)]
    assert order.index("trips") < order.index("trip_counts")

    write(data, records=a_trip(1) + a_trip(1, start_s=3600))
    summary = build_warehouse(data, marts=marts)
    assert summary.marts.rows_written["trip_counts"] == 1
    assert summary.checks.rows_validated["trip_counts"] == 1

    write(data, records=a_trip(2, start_s=7200))
    build_warehouse(data, marts=marts)
    con = reader(data)
    try:
        assert con.execute("select * from marts.trip_counts order by vid").fetchall() == [
            (1, 2, 12.0), (2, 1, 6.0)]
        comment = con.execute(
            "select comment from duckdb_columns() "
            "where table_name = 'trip_counts' and column_name = 'trips'").fetchone()
        assert comment == ("closed and open trips",)
    finally:
        con.close()

    # its pandera schema, derived from its columns, guards its rows like any other mart's
    tamper(data, "update marts.trip_counts set trips = 0")
    write(data, records=a_trip(1, start_s=10800))
    with pytest.raises(WarehouseCheckError, match="trip_counts count the trips"):
        build_warehouse(data, marts=marts)


def test_the_haversine_macro_is_stored_in_the_warehouse(tmp_path: Path) -> None:
    write(tmp_path, records=a_trip(1))
    build_warehouse(tmp_path)
    con = reader(tmp_path)
    try:
        metres = con.execute("select haversine_m(0, 0, 0, 1)").fetchone()[0]
        assert metres == pytest.approx(111_195.08, abs=0.01)  # one degree on the equator
        assert con.execute(
            "select database_name, schema_name from duckdb_functions() "
            "where function_name = 'haversine_m'"
        ).fetchall() == [("warehouse", "main")]
    finally:
        con.close()


def test_the_build_settings_are_stored_with_the_rows_they_made(tmp_path: Path) -> None:
    # 23:00 UTC is already the next day in Tokyo
    write(tmp_path, records=a_trip(1, start_s=15 * 3600))
    env = {**os.environ, "TRACKIT_TZ": "Asia/Tokyo"}
    run = subprocess.run([sys.executable, "-m", "trackit", "build", "--data", str(tmp_path)],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    con = reader(tmp_path)
    try:
        settings = dict(con.execute("select key, value from meta.build_settings").fetchall())
        assert settings["timezone"] == "Asia/Tokyo"
        assert float(settings["min_stop_s"]) == 300.0
        assert float(settings["max_gap_s"]) == 3600.0
        build_id, zone = con.execute(
            "select build_id, settings ->> 'timezone' from meta.builds").fetchone()
        assert zone == "Asia/Tokyo"
        assert build_id == con.execute(
            "select value from meta.state where name = 'marts_load_id'").fetchone()[0]
        assert con.execute("select build_id, passed from meta.checks").fetchall() == [
            (build_id, True)]
        assert con.execute("select day from marts.vehicle_daily").fetchall() == [
            (date(2026, 3, 3),)]
    finally:
        con.close()


def test_new_settings_rebuild_every_mart_under_them(tmp_path: Path) -> None:
    tokyo = WarehouseConfig(timezone="Asia/Tokyo")
    write(tmp_path, records=a_trip(1, start_s=15 * 3600))
    build_warehouse(tmp_path, config=tokyo)
    write(tmp_path, records=a_trip(2, start_s=15 * 3600))
    build_warehouse(tmp_path, config=tokyo)

    write(tmp_path, records=a_trip(3, start_s=15 * 3600))
    summary = build_warehouse(tmp_path)  # UTC: the rows of vehicles 1 and 2 are rebuilt too
    assert summary.marts.vehicles_rebuilt == 3
    con = reader(tmp_path)
    try:
        assert con.execute(
            "select build_id, settings ->> 'timezone' from meta.builds order by build_id"
        ).fetchall() == [(1, "Asia/Tokyo"), (2, "Asia/Tokyo"), (3, "UTC")]
        assert con.execute(
            "select value from meta.build_settings where key = 'timezone'"
        ).fetchall() == [("UTC",)]
        assert con.execute("select vid, day from marts.vehicle_daily order by vid").fetchall() \
            == [(1, date(2026, 3, 2)), (2, date(2026, 3, 2)), (3, date(2026, 3, 2))]
    finally:
        con.close()

    # a new threshold alone, with no new data, rebuilds the marts too
    summary = build_warehouse(tmp_path, config=WarehouseConfig(min_trip_m=50_000))
    assert summary.marts.load_id == 3
    con = reader(tmp_path)
    try:
        assert con.execute("select count(*) from marts.trips").fetchone()[0] == 0
        assert float(con.execute(
            "select value from meta.build_settings where key = 'min_trip_m'"
        ).fetchone()[0]) == 50_000
    finally:
        con.close()
