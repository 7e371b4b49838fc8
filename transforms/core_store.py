"""Write transformed batches into the warehouse's ``core`` tables, one transaction each.

The core tables live in the warehouse (a DuckLake, ``lake.ducklake``), created from their
declarations in ``schemas.core_tables`` plus one column, ``_load_id``: the transform batch
that wrote the row, which is how the marts find what is new. A batch commits its rows of
every table, its quarantine rows, its load in ``meta.loads`` and its raw files in
``meta.transformed_files`` together: after a crash the batch is either wholly in the
warehouse or wholly redone, never half.

Rows are deduplicated on their table's key, keeping the row received first (smallest
``received_at``/``sent_at``, then ``seq``), so the result does not depend on the order raw
files are transformed in. DuckLake has no primary keys: a batch's keys are matched against
the rows already stored, and when a key holds a time (``tmx``, ``received_at``) only the
stored rows within the batch's time range are read, which DuckLake's per-file statistics
turn into reading a few files, however long the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from lake.ducklake import rollback
from schemas.core_tables import CORE_TABLES, CoreTable
from transforms.batch import BatchResult, quarantine_arrow

LOAD_ID = "_load_id"

META_DDL = """
create schema if not exists meta;
create table if not exists meta.loads (
    load_id bigint not null,        -- one per committed transform batch (or migration)
    loaded_at timestamptz not null,
    files bigint not null,          -- raw files of the batch
    rows bigint not null            -- rows written into core tables and the quarantine
);
create table if not exists meta.transformed_files (
    path varchar not null,          -- a raw file, relative to the data dir
    frames bigint not null,
    load_id bigint not null
);
"""


def core_table_ddl(table: CoreTable) -> str:
    """``create table`` of one core table, straight from its declaration; the key's columns
    are ``not null`` (DuckLake has no primary key to imply it)."""
    columns = [f"{c.name} {c.type}{'' if c.nullable and c.name not in table.key else ' not null'}"
               for c in table.columns]
    columns.append(f"{LOAD_ID} bigint not null")
    return f"create table if not exists core.{table.name} (\n    " + ",\n    ".join(
        columns) + "\n)"


def ensure_core(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``core`` and ``meta`` schemas and tables, adding columns declared since
    (one transaction: one snapshot)."""
    con.execute("begin transaction")
    con.execute("create schema if not exists core")
    con.execute(META_DDL)
    for table in CORE_TABLES.values():
        con.execute(core_table_ddl(table))
        existing = {row[0] for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_catalog = current_database() and table_schema = 'core' "
            "and table_name = ?", [table.name]).fetchall()}
        for column in table.columns:
            if column.name not in existing:
                con.execute(f"alter table core.{table.name} add column {column.name} "
                            f"{column.type}")
    con.execute("commit")


def transformed_files(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Raw files already transformed (path relative to the data dir → frames)."""
    return dict(con.execute("select path, frames from meta.transformed_files").fetchall())


def receipt_order(table: CoreTable) -> list[str]:
    """The columns ordering a table's rows by receipt: of rows sharing a key, the first in
    this order is kept."""
    return [c for c in ("received_at", "sent_at", "seq") if c in table.column_names]


def _time_key(table: CoreTable) -> str | None:
    """The key column holding a time, which bounds where a stored duplicate can be."""
    return next((k for k in table.key if table.column(k).type == "TIMESTAMPTZ"), None)


def _insert_deduplicated(con: duckdb.DuckDBPyConnection, table: CoreTable, data: pa.Table,
                         load_id: int) -> int:
    """Insert ``data`` into ``core.<table>`` keeping, per key, the row received first.

    Returns the number of rows inserted (new keys, or earlier receipts of stored keys).
    """
    key = table.key
    keys = ", ".join(key)
    # On an error the caller rolls back, which drops these temporary objects too.
    con.register("incoming", data)
    # Rows of one raw file are unique already; the same key in two files of a batch
    # is rare, and checking for it costs a tenth of the window that settles it.
    repeated = con.execute(
        f"select count(*) - count(distinct ({keys})) from incoming").fetchone()[0]
    first = (f"qualify row_number() over (partition by {keys} "
             f"order by {', '.join(receipt_order(table))}) = 1" if repeated else "")
    con.execute(f"create or replace temp view batch as select *, "
                f"cast({int(load_id)} as bigint) as {LOAD_ID} from incoming {first}")
    stored = f"core.{table.name}"
    window = ""
    if (time_key := _time_key(table)) is not None:
        low, high = con.execute(
            f"select min({time_key}), max({time_key}) from batch").fetchone()
        window = f"where {time_key} between '{low.isoformat()}' and '{high.isoformat()}'"
    batch_order = ", ".join(f"b.{c}" for c in receipt_order(table))
    stored_order = ", ".join(f"s.{c}" for c in receipt_order(table))
    on = " and ".join(f"s.{k} = b.{k}" for k in key)
    con.execute(
        f"""
        create or replace temp table clash as
        select {', '.join('b.' + k for k in key)},
               ({batch_order}) < ({stored_order}) as batch_wins
        from batch as b join (select * from {stored} {window}) as s on {on}
        """)
    losers = ""
    if con.execute("select count(*) from clash").fetchone()[0]:
        on_stored = " and ".join(f"{stored}.{k} = c.{k}" for k in key)
        con.execute(f"delete from {stored} using clash as c "
                    f"where c.batch_wins and {on_stored}")
        losers = f"anti join (select {keys} from clash where not batch_wins) using ({keys})"
    inserted = con.execute(
        f"insert into {stored} by name select * from batch {losers}").fetchone()[0]
    con.execute("drop view batch; drop table clash")
    con.unregister("incoming")
    return int(inserted)


@dataclass
class StoredBatch:
    """What one committed batch wrote."""

    load_id: int
    rows_written: dict[str, int]


def store_batch(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table],
                raw_files: dict[str, int]) -> StoredBatch:
    """Commit ``tables`` (core table name or ``quarantine`` → rows) and the ledger entries
    ``raw_files`` (relative path → frames) as one transaction."""
    con.execute("begin transaction")
    try:
        load_id = int(con.execute(
            "select coalesce(max(load_id), 0) + 1 from meta.loads").fetchone()[0])
        written = {name: _insert_deduplicated(con, CORE_TABLES[name], data, load_id)
                   for name, data in tables.items() if data.num_rows}
        if raw_files:
            con.executemany("insert into meta.transformed_files values (?, ?, ?)",
                            [(path, frames, load_id) for path, frames in raw_files.items()])
        con.execute("insert into meta.loads values (?, ?, ?, ?)",
                    [load_id, datetime.now(UTC), len(raw_files), sum(written.values())])
        con.execute("commit")
    except BaseException:
        rollback(con)
        raise
    return StoredBatch(load_id, written)


def _arrow(table: str, df: pl.DataFrame) -> pa.Table:
    schema = CORE_TABLES[table].arrow_schema
    return df.select(schema.names).to_arrow().cast(schema)


def batch_tables(root: Path, result: BatchResult) -> dict[str, pa.Table]:
    """The rows of ``result`` per table, in their declared Arrow schema; the quarantine's
    rows name their raw file (relative to the data dir ``root``)."""
    tables = {name: _arrow(name, df) for name, df in result.tables.items() if df.height}
    if result.quarantine.height:
        names = [f.relative_to(root).as_posix() for f in result.files]
        quarantine = result.quarantine.with_columns(raw_file=pl.col("_file").cast(
            pl.Int64).replace_strict(list(range(len(names))), names, return_dtype=pl.String))
        tables["quarantine"] = quarantine_arrow(quarantine)
    return tables
