"""The builder's DuckDB file: where it is, how to open it, and its `core` / `meta` DDL.

The ``core`` tables are created from the declaration in ``schemas.core_tables`` (columns,
types, nullability, primary key), plus one warehouse column, ``_load_id``: the load that
last wrote the row, which is how the marts find what is new. ``meta`` holds the ledger of
loaded files, the watermarks of the later steps and the settings of each mart build.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from lake.layout import DataLayout
from schemas.core_tables import CORE_TABLES, CoreTable

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
def connect(data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open (creating if needed) the builder's database, with every schema in place."""
    path = builder_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("set TimeZone = 'UTC'")
        ensure_schemas(con)
        yield con
    finally:
        con.close()


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
    """Create the ``core``, ``marts`` and ``meta`` schemas and the core/meta tables."""
    con.execute("create schema if not exists core")
    con.execute("create schema if not exists marts")
    con.execute(META_DDL)
    for table in CORE_TABLES.values():
        con.execute(core_table_ddl(table))


def get_state(con: duckdb.DuckDBPyConnection, name: str, default: int = 0) -> int:
    row = con.execute("select value from meta.state where name = ?", [name]).fetchone()
    return default if row is None else int(row[0])


def set_state(con: duckdb.DuckDBPyConnection, name: str, value: int) -> None:
    con.execute(
        "insert into meta.state values (?, ?) on conflict do update set value = excluded.value",
        [name, value],
    )
