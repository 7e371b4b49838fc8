"""``maintain_warehouse``: keep the DuckLake small: fewer files, old snapshots expired.

Every transform batch and every build commits a snapshot and writes small data files
(or rows inlined in the catalog). Under the writer lock, maintenance

1. moves the rows inlined in the catalog into data files (``ducklake_flush_inlined_data``)
   for each table holding at least ``FLUSH_INLINED_ROWS`` of them (DuckLake keeps small
   inserts in the catalog; flushing every table each run would only add small files);
2. merges small adjacent data files of each table (``ducklake_merge_adjacent_files``);
3. rewrites the data files most of whose rows were deleted (``ducklake_rewrite_data_files``);
4. expires the snapshots older than the retention (``ducklake_expire_snapshots``): time
   travel (``AT (VERSION => n)``) reaches back only that far;
5. deletes the files no remaining snapshot needs once they have been unneeded for
   ``grace`` (``ducklake_cleanup_old_files``), and the files of the data folder the
   catalog does not know, left by a writer killed before its commit
   (``ducklake_delete_orphaned_files``).

Each step is its own DuckLake transaction: readers see the same rows before and after.
``grace`` lets a query that started before maintenance finish reading the files it opened.
The retention comes from ``TRACKIT_SNAPSHOT_RETENTION`` (``7d``, ``12h``, ``30m``) by
default: see ``retention_from_env``.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from lake.ducklake import (
    DATABASE,
    WarehouseData,
    WarehouseLocation,
    layout_of,
    writing_warehouse,
)
from lake.errors import TrackitError
from lake.object_store import is_object_store
from warehouse.errors import translated

log = logging.getLogger(__name__)

RETENTION_ENV = "TRACKIT_SNAPSHOT_RETENTION"
DEFAULT_RETENTION = timedelta(days=7)
DEFAULT_GRACE = timedelta(hours=1)
FLUSH_INLINED_ROWS = 10_000

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


class RetentionError(TrackitError):
    """A retention that is not a duration like ``7d``."""


def parse_retention(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m``, ``90s``, ``2w`` → a ``timedelta``."""
    match = _DURATION.match(text.lower())
    if match is None:
        raise RetentionError(
            f"snapshot retention {text!r} is not a duration: write a whole number and a "
            f"unit, s, m, h, d or w (e.g. 7d or 12h)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def retention_from_env() -> timedelta:
    """``$TRACKIT_SNAPSHOT_RETENTION`` when set, else 7 days."""
    text = os.environ.get(RETENTION_ENV, "").strip()
    if not text:
        return DEFAULT_RETENTION
    try:
        return parse_retention(text)
    except RetentionError as exc:
        raise RetentionError(f"{RETENTION_ENV}: {exc}") from None


@dataclass(frozen=True)
class MaintenanceSummary:
    """What a maintenance run did."""

    files_before: int
    files_after: int
    bytes_before: int
    bytes_after: int
    inlined_tables_flushed: int
    files_merged: int
    files_rewritten: int
    snapshots_expired: int
    files_deleted: int
    retention: timedelta
    seconds: float

    @property
    def bytes_freed(self) -> int:
        return max(0, self.bytes_before - self.bytes_after)

    def __str__(self) -> str:
        return (f"data files {self.files_before} → {self.files_after} "
                f"({self.bytes_freed / 1e6:.1f} MB freed, {self.files_deleted} deleted), "
                f"{self.files_merged} merged, {self.files_rewritten} rewritten, "
                f"{self.inlined_tables_flushed} inlined tables flushed, "
                f"{self.snapshots_expired} snapshots older than {_duration(self.retention)} "
                f"expired, in {self.seconds:.2f}s")


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def stored_files(con: duckdb.DuckDBPyConnection, data_path: str) -> tuple[int, int]:
    """How many Parquet files are under the warehouse's data path, and their bytes: a
    local folder is listed directly, an object-store prefix through DuckDB (httpfs)."""
    if not is_object_store(data_path):
        sizes = [p.stat().st_size for p in Path(data_path).rglob("*.parquet") if p.is_file()]
        return len(sizes), sum(sizes)
    pattern = data_path.rstrip("/") + "/**/*.parquet"
    if not con.execute("select count(*) from glob(?)", [pattern]).fetchone()[0]:
        return 0, 0
    count, size = con.execute("select count(*), coalesce(sum(size), 0) from read_blob(?)",
                              [pattern]).fetchone()
    return int(count), int(size)


def current_data_files(con: duckdb.DuckDBPyConnection) -> int:
    """Data files the latest snapshot reads, every table together."""
    return int(con.execute(
        f"select count(*) from __ducklake_metadata_{DATABASE}.ducklake_data_file "
        "where end_snapshot is null").fetchone()[0])


def _call(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _flush_inlined(con: duckdb.DuckDBPyConnection, min_rows: int) -> int:
    """Flush the inlined rows of every table holding at least ``min_rows``; how many."""
    metadata = f"__ducklake_metadata_{DATABASE}"
    tables = con.execute(f"""
        select s.schema_name, t.table_name, list(i.table_name)
        from {metadata}.ducklake_inlined_data_tables i
        join {metadata}.ducklake_table t using (table_id)
        join {metadata}.ducklake_schema s using (schema_id)
        where t.end_snapshot is null and s.end_snapshot is null
        group by all
    """).fetchall()
    flushed = 0
    for schema, table, inlined in tables:
        rows = sum(con.execute(f'select count(*) from {metadata}."{name}"').fetchone()[0]
                   for name in inlined)
        if rows >= min_rows:
            con.execute(f"call ducklake_flush_inlined_data('{DATABASE}', "
                        f"schema_name => ?, table_name => ?)", [schema, table]).fetchall()
            flushed += 1
    return flushed


def _expire_snapshots(con: duckdb.DuckDBPyConnection, retention: timedelta) -> int:
    """Expire every snapshot older than ``retention`` but the latest; how many.

    The snapshots are chosen here and named (``versions =>``): with a SQLite catalog
    DuckLake compares ``older_than`` with the day a snapshot was taken, not the instant,
    and would expire all of that day's snapshots.
    """
    cutoff = datetime.now(UTC) - retention
    versions = [int(v) for (v,) in con.execute(
        f"select snapshot_id from ducklake_snapshots('{DATABASE}') "
        f"where snapshot_time < ? and snapshot_id < "
        f"(select max(snapshot_id) from ducklake_snapshots('{DATABASE}')) order by 1",
        [cutoff]).fetchall()]
    if not versions:
        return 0
    return len(con.execute(f"call ducklake_expire_snapshots('{DATABASE}', versions => "
                           f"{versions}::UBIGINT[])").fetchall())


def _unneeded_since(con: duckdb.DuckDBPyConnection, grace: timedelta) -> str:
    """The cleanup functions' argument selecting files unneeded for at least ``grace``.

    With a SQLite catalog DuckLake compares ``older_than`` with the day a file became
    unneeded, not the instant (a file scheduled at 23:43 passes ``older_than`` 00:00 of
    that day). So when some file became unneeded less than ``grace`` ago, the cut-off is
    the end of the day before ``now - grace``: files then go up to a day later than
    ``grace`` says, never earlier.
    """
    cutoff = datetime.now(UTC) - grace
    recent = con.execute(
        f"select count(*) from __ducklake_metadata_{DATABASE}."
        f"ducklake_files_scheduled_for_deletion "
        f"where try_cast(schedule_start as timestamptz) is null "
        f"or try_cast(schedule_start as timestamptz) >= ?", [cutoff]).fetchone()[0]
    if grace <= timedelta(0) or not recent:
        return "cleanup_all => true"
    day = cutoff.replace(hour=0, minute=0, second=0, microsecond=0)
    return f"older_than => TIMESTAMPTZ '{(day - timedelta(microseconds=1)).isoformat(sep=' ')}'"


def maintain_in(con: duckdb.DuckDBPyConnection, data_path: str | Path, *,
                retention: timedelta, grace: timedelta,
                flush_inlined_rows: int = FLUSH_INLINED_ROWS) -> MaintenanceSummary:
    """Maintenance on an open writer connection (see the module)."""
    started = time.perf_counter()
    data_path = str(data_path)
    files_before, bytes_before = stored_files(con, data_path)
    flushed = _flush_inlined(con, flush_inlined_rows)
    # (schema, table, files processed, files created) per table
    merged = _call(con, f"call ducklake_merge_adjacent_files('{DATABASE}')")
    rewritten = _call(con, f"call ducklake_rewrite_data_files('{DATABASE}')")
    expired = _expire_snapshots(con, retention)
    unneeded = _unneeded_since(con, grace)
    deleted = _call(con, f"call ducklake_cleanup_old_files('{DATABASE}', {unneeded})")
    orphans = _call(con, f"call ducklake_delete_orphaned_files('{DATABASE}', {unneeded})")
    files_after, bytes_after = stored_files(con, data_path)
    return MaintenanceSummary(
        files_before=files_before, files_after=files_after,
        bytes_before=bytes_before, bytes_after=bytes_after,
        inlined_tables_flushed=flushed,
        files_merged=sum(int(row[2]) for row in merged),
        files_rewritten=sum(int(row[2]) for row in rewritten),
        snapshots_expired=expired,
        files_deleted=len(deleted) + len(orphans),
        retention=retention, seconds=time.perf_counter() - started)


def maintain_warehouse(data_dir: WarehouseData, *,
                       retention: timedelta = DEFAULT_RETENTION,
                       grace: timedelta = DEFAULT_GRACE) -> MaintenanceSummary:
    """Merge small files, expire snapshots older than ``retention``, delete unneeded files.

    Takes the writer lock (waits for a running transform or build). Readers keep
    reading throughout.
    """
    if retention < timedelta(0) or grace < timedelta(0):
        raise RetentionError("snapshot retention and grace must not be negative")
    layout = layout_of(data_dir)
    location = WarehouseLocation.of(layout)
    if not location.exists():
        raise TrackitError(f"no warehouse at {location} yet: run "
                           f"`trackit transform --data {layout.root}` and `trackit build` "
                           "first")
    with (translated(layout.root, "maintain"),
          writing_warehouse(layout, location=location) as con):
        summary = maintain_in(con, location.data_path, retention=retention, grace=grace)
    log.info("maintain: %s", summary)
    return summary
