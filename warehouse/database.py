"""The warehouse's schemas as the build needs them: ``core``, ``marts``, ``meta``, macros.

The warehouse is the DuckLake of ``lake.ducklake``; the transform creates and fills the
``core`` tables (``transforms.core_store``). The build adds the ``marts`` schema, the SQL
macros the marts use, the reference tables of the named places, and its own ``meta``
tables: the load up to which the marts are built, the settings of each build, the rows
still to check, and the verdict of every build's checks.

DuckLake has no primary keys, so the small ``meta`` tables are kept one row per name by
deleting before inserting (``set_state``), inside the build's transaction.
"""

from __future__ import annotations

import hashlib

import duckdb

from marts import MACROS_SQL
from transforms.core_store import ensure_core
from warehouse.places import PLACES_DDL

META_DDL = """
create table if not exists meta.state (
    name varchar not null,          -- marts_load_id: the load up to which marts are built;
                                    -- io_first_readings_load_id: ... meta.io_first_readings;
                                    -- macros_version: which macros.sql the macros are
    value bigint not null
);
create table if not exists meta.builds (
    build_id bigint not null,       -- the load up to which this mart build went
    built_at timestamptz not null,
    settings json not null          -- the WarehouseConfig: time zone and every threshold
);
create view if not exists meta.build_settings as  -- the settings of the latest build
    select key, value ->> '$' as value
    from json_each((select settings from meta.builds order by build_id desc limit 1));
create table if not exists meta.pending_checks (
    mart varchar not null,          -- rows of this mart at or after `since` are unchecked
    since timestamptz not null
);
create table if not exists meta.io_first_readings (  -- the first reading of each input, so
    uid bigint not null,                             -- a build starts an input's history
    io integer not null,                             -- without scanning all of core
    first_seen timestamptz not null,
    first_value double not null,
    first_vid bigint,               -- the vehicle of that reading (NULL: a getio snapshot)
    first_known_vid_at timestamptz, -- the first reading that names a vehicle ...
    first_known_vid bigint          -- ... and that vehicle
);
create table if not exists meta.checks (
    build_id bigint not null,       -- the load up to which the checked build went
    checked_at timestamptz not null,
    passed boolean not null,
    rows_validated bigint not null,
    reconciliations bigint not null,
    failures varchar[] not null     -- one line per failed check (empty when passed)
);
"""


MACROS_VERSION = int.from_bytes(hashlib.sha256(MACROS_SQL.encode()).digest()[:7], "big")
"""Which ``macros.sql`` the stored macros come from (``meta.state`` holds a bigint)."""


MART_ROW_GROUP_ROWS = 8_192
"""Rows per Parquet row group in the marts' data files. The files are sorted by each mart's
time (``Mart.sorted_by``), so a build or a check reading the newest hours skips every row
group but the last few; at DuckDB's default of 122,880 rows the newest row group of a long
history spans days (a 90-day ``marts.trips`` read 120 k rows to check 300)."""


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    """Create every schema, table and macro the build needs, and the marts' row group size
    (one snapshot, if any).

    The macros are (re)created only when ``macros.sql`` changed: ``create or replace``
    would otherwise commit a snapshot on every build, even one with nothing new.
    """
    ensure_core(con)
    con.execute("begin transaction")
    con.execute("create schema if not exists marts")
    con.execute(META_DDL)
    con.execute(PLACES_DDL)
    if get_state(con, "macros_version") != MACROS_VERSION:
        con.execute(MACROS_SQL)
        set_state(con, "macros_version", MACROS_VERSION)
    con.execute("commit")
    if get_state(con, "marts_row_group_rows") != MART_ROW_GROUP_ROWS:
        # an option of a schema created in the same transaction is refused, and an option
        # applies from the next transaction on: its own, before any mart is built
        con.execute("begin transaction")
        con.execute("call set_option('parquet_row_group_size', ?, schema => 'marts')",
                    [MART_ROW_GROUP_ROWS])
        set_state(con, "marts_row_group_rows", MART_ROW_GROUP_ROWS)
        con.execute("commit")


def get_state(con: duckdb.DuckDBPyConnection, name: str, default: int = 0) -> int:
    row = con.execute("select value from meta.state where name = ?", [name]).fetchone()
    return default if row is None else int(row[0])


def set_state(con: duckdb.DuckDBPyConnection, name: str, value: int) -> None:
    con.execute("delete from meta.state where name = ?", [name])
    con.execute("insert into meta.state values (?, ?)", [name, value])
