"""The builder's DuckDB file: where it is, how to open it, and its `core` / `meta` DDL.

The ``core`` tables are created from the declaration in ``schemas.core_tables`` (columns,
types, nullability, primary key), plus one warehouse column, ``_load_id``: the load that
last wrote the row, which is how the marts find what is new. ``meta`` holds the ledger of
loaded files, the watermarks of the later steps and the settings of each mart build.

The builder's database holds nothing that the core lake does not: when it is damaged, the
load step (the first of a build) discards it and loads the whole core lake again
(``connect(..., rebuild_if_damaged=True)``); the later steps refuse it with a one-line
error naming the folder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from lake.layout import DataLayout
from lake.storage import is_disk_full
from schemas.core_tables import CORE_TABLES, CoreTable
from warehouse.errors import (
    BuilderDatabaseError,
    damaged_builder_error,
    disk_full_error,
    first_line,
    is_corrupt_database,
    is_lock_conflict,
    locked_builder_error,
)
from warehouse.places import PLACES_DDL

log = logging.getLogger(__name__)

LOAD_ID = "_load_id"

META_DDL = """
create schema if not exists meta;
create table if not exists meta.loaded_files (
    path varchar primary key,       -- relative to the data dir
    core_table varchar not null,
    size_bytes bigint not null,
    mtime_ns bigint not null,
    load_id bigint not null
);
create table if not exists meta.scanned_dirs (
    path varchar primary key,       -- a date folder of the lake, relative to the data dir
    mtime_ns bigint not null        -- its mtime when last listed: unchanged means no new file
);
create table if not exists meta.loads (
    load_id bigint primary key,
    loaded_at timestamptz not null,
    files bigint not null,
    rows bigint not null
);
create table if not exists meta.state (
    name varchar primary key,       -- marts_load_id, checked_load_id, published_load_id
    value bigint not null
);
create table if not exists meta.builds (
    build_id bigint primary key,    -- the load up to which this mart build went
    built_at timestamptz not null,
    settings json not null          -- the WarehouseConfig: time zone and every threshold
);
create view if not exists meta.build_settings as  -- the settings of the latest build
    select key, value ->> '$' as value
    from json_each((select settings from meta.builds order by build_id desc limit 1));
create table if not exists meta.pending_checks (
    mart varchar primary key,       -- rows of this mart at or after `since` are unchecked
    since timestamptz not null
);
"""


def builder_path(data_dir: Path) -> Path:
    """The private DuckDB file the builder writes (never opened by readers)."""
    return DataLayout(data_dir).state / "warehouse" / "build.duckdb"


@contextmanager
def connect(data_dir: Path, *, rebuild_if_damaged: bool = False
            ) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open (creating if needed) the builder's database, with every schema in place.

    A database that DuckDB cannot open is discarded and started afresh when
    ``rebuild_if_damaged`` (the load step, which refills it from the core lake, and also
    retries once on damage found later). Otherwise damage, found at open or by any query
    in the block, is a ``BuilderDatabaseError`` naming the folder to delete.
    """
    path = builder_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = _open(path)
    except duckdb.Error as exc:
        if not rebuild_if_damaged:
            raise damaged_builder_error(path, exc) from None
        discard_builder(data_dir, first_line(exc))
        con = _open(path)
    try:
        yield con
    except duckdb.Error as exc:
        if is_corrupt_database(exc) and not rebuild_if_damaged:
            raise damaged_builder_error(path, exc) from None
        raise
    finally:
        con.close()


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    """Connect and check that the catalog reads; busy or full is never called damaged."""
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        _raise_unless_damaged(path, exc)
        raise
    try:
        con.execute("set TimeZone = 'UTC'")
        ensure_schemas(con)
        con.execute("select count(*) from meta.loads").fetchone()
    except duckdb.Error as exc:
        con.close()
        _raise_unless_damaged(path, exc)
        raise
    return con


def _raise_unless_damaged(path: Path, exc: duckdb.Error) -> None:
    if is_lock_conflict(exc):
        raise locked_builder_error(path, exc) from None
    if is_disk_full(exc):
        raise disk_full_error(path.parent, "build") from None
    if "Permission denied" in str(exc):
        raise BuilderDatabaseError(f"cannot open the builder's database {path}: "
                                   f"{first_line(exc)}") from None


def discard_builder(data_dir: Path, why: str) -> None:
    """Delete the builder's database and its publication marker (the next load redoes all).

    The marker goes too, so the rebuilt warehouse is published even when its load ids
    happen to match the old ones.
    """
    path = builder_path(data_dir)
    log.warning("the builder's database %s is damaged (%s): deleting it and rebuilding it "
                "from the core lake", path, why)
    for leftover in (path, path.with_name(path.name + ".wal"),
                     path.with_name("published.json")):
        leftover.unlink(missing_ok=True)


def core_table_ddl(table: CoreTable) -> str:
    """``create table`` of one core table, straight from its declaration."""
    columns = [
        f"{c.name} {c.type}{'' if c.nullable else ' not null'}" for c in table.columns
    ]
    columns.append(f"{LOAD_ID} bigint not null")
    key = ", ".join(table.key)
    body = ",\n    ".join([*columns, f"primary key ({key})"])
    return f"create table if not exists core.{table.name} (\n    {body}\n)"


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``core``, ``marts`` and ``meta`` schemas, the core/meta tables and the
    reference tables of the named places (``core.places``, ``core.place_imports``)."""
    con.execute("create schema if not exists core")
    con.execute("create schema if not exists marts")
    con.execute(META_DDL)
    for table in CORE_TABLES.values():
        con.execute(core_table_ddl(table))
        _add_new_columns(con, table)
    con.execute(PLACES_DDL)


def _add_new_columns(con: duckdb.DuckDBPyConnection, table: CoreTable) -> None:
    """Add the columns declared since this database was created (always nullable)."""
    existing = {
        row[0] for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'core' and table_name = ?", [table.name]
        ).fetchall()
    }
    for column in table.columns:
        if column.name not in existing:
            con.execute(f"alter table core.{table.name} add column {column.name} {column.type}")


def get_state(con: duckdb.DuckDBPyConnection, name: str, default: int = 0) -> int:
    row = con.execute("select value from meta.state where name = ?", [name]).fetchone()
    return default if row is None else int(row[0])


def set_state(con: duckdb.DuckDBPyConnection, name: str, value: int) -> None:
    con.execute(
        "insert into meta.state values (?, ?) on conflict do update set value = excluded.value",
        [name, value],
    )
