"""The mart declarations: build order from their reads, and each declaration agrees with
its SQL, its DDL and its pandera schema."""

from __future__ import annotations

import re

import duckdb
import polars as pl
import pytest

from marts import MARTS, MartDeclarationError, build_order
from marts.model import Mart, MartColumn, Scope
from schemas.core_tables import CORE_TABLES
from warehouse.database import META_DDL
from warehouse.places import REFERENCE_TABLES

NEW_ROWS = Scope(delete="delete from marts.{name}", touched_since="select null",
                 touched_rows="true")


def declared(name: str, *reads: str) -> Mart:
    return Mart(name=name, grain="thing", columns=(MartColumn("n", "bigint"),),
                sql="select 1 as n", scope=NEW_ROWS, reads=reads)


def test_every_mart_comes_after_the_marts_it_reads() -> None:
    order = [mart.name for mart in build_order(MARTS)]
    assert sorted(order) == sorted(MARTS)
    for mart in MARTS.values():
        for read in mart.marts_read:
            assert order.index(read) < order.index(mart.name), (read, mart.name)
    assert order.index("io_changes") < order.index("trips") < order.index("stops") \
        < order.index("vehicle_daily")


def test_order_is_derived_from_reads_not_from_listing_order() -> None:
    marts = [declared("c", "marts.b"), declared("b", "marts.a", "core.records"), declared("a")]
    assert [m.name for m in build_order(marts)] == ["a", "b", "c"]
    # reading its own table (its previous rows) is state, not a dependency
    assert [m.name for m in build_order([declared("a", "marts.a")])] == ["a"]


def test_a_cycle_is_a_clear_error() -> None:
    marts = [declared("a", "marts.c"), declared("b", "marts.a"), declared("c", "marts.b")]
    with pytest.raises(MartDeclarationError, match="cycle: ") as raised:
        build_order(marts)
    assert all(name in str(raised.value) for name in "abc")


def test_an_unknown_mart_is_a_clear_error() -> None:
    with pytest.raises(MartDeclarationError, match=r"mart b reads unknown mart.*nowhere"):
        build_order([declared("a"), declared("b", "marts.nowhere")])


def test_a_declaration_reads_only_core_and_marts_and_names_a_known_scope() -> None:
    with pytest.raises(ValueError, match="not core"):
        declared("a", "main.somewhere")
    with pytest.raises(ValueError, match="unknown scope windows"):
        Mart(name="a", grain="x", columns=(), sql="", reads=(),
             scope=Scope(delete="", touched_since="", touched_rows="", windows="day_windows"))


def _tables_in(sql: str) -> set[str]:
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return set(re.findall(r"\b((?:core|marts|meta)\.[a-z_]+)", without_comments))


@pytest.mark.parametrize("name", sorted(MARTS))
def test_declared_reads_are_the_tables_its_sql_reads(name: str) -> None:
    mart = MARTS[name]
    assert set(mart.reads) == _tables_in(mart.sql)
    for read in mart.reads:
        schema, table = read.split(".")
        known = {"core": [*CORE_TABLES, *REFERENCE_TABLES], "marts": MARTS,
                 "meta": re.findall(r"create table if not exists meta\.([a-z_]+)", META_DDL)}
        assert table in known[schema], read


@pytest.mark.parametrize("name", sorted(MARTS))
def test_ddl_and_pandera_schema_come_from_the_same_columns(name: str) -> None:
    mart = MARTS[name]
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("create schema marts")
    con.execute(mart.ddl())
    for comment in mart.comments():
        con.execute(comment)
    described = con.execute(f"describe {mart.table}").fetchall()
    assert [(row[0], row[1].lower(), row[2]) for row in described] == [
        (c.name, c.type.replace("timestamptz", "timestamp with time zone"),
         "YES" if c.nullable else "NO") for c in mart.columns
    ]
    # an empty frame read from the created table passes the derived schema: same types
    empty = con.sql(f"select * from {mart.table}").pl()
    mart.pandera_schema().validate(empty)
    assert set(mart.pandera_schema().columns) == {c.name for c in mart.columns}


def test_the_derived_schema_enforces_the_column_rules() -> None:
    import pandera.errors

    trips = MARTS["trips"].pandera_schema()
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("create schema marts")
    con.execute(MARTS["trips"].ddl())
    con.execute("""
        insert into marts.trips values
        (md5('a'), 1, null, '2026-03-02 08:00:00Z', '2026-03-02 07:00:00Z', 60, 91, 0, 0, 0, 1,
         'telepathy', 1, null, null, 1, 0, null, null, 'motion', ['open'], false, 'arrival',
         null, null)
    """)
    frame: pl.DataFrame = con.sql("select * from marts.trips").pl()
    with pytest.raises(pandera.errors.SchemaErrors) as raised:
        trips.validate(frame, lazy=True)
    failed = set(raised.value.failure_cases["check"].to_list())
    assert {"ends_after_start", "open_flag_matches"} <= failed
    assert any("isin" in check for check in failed)            # distance_source
    assert any("less_than_or_equal_to" in check for check in failed)  # start_lat 91
    assert any("greater_than_or_equal_to" in check for check in failed)  # n_records 1
