"""``maintain_warehouse``: keep the number of the warehouse's data files bounded.

Every transform batch and every build commits new Parquet data files (and delete files);
a warehouse fed every few seconds (``trackit run``) would collect thousands an hour. One
maintenance pass, under the warehouse's writer lock, runs DuckLake's own functions:

1. ``ducklake_merge_adjacent_files``: the small files of each table are merged into
   larger ones (a new snapshot; the merged files stay readable by older snapshots);
2. ``ducklake_expire_snapshots``: snapshots older than the retention are forgotten (no
   time travel to before it), so the files only they used are scheduled for deletion;
3. ``ducklake_cleanup_old_files``: files scheduled for deletion more than the retention
   ago are deleted; a reader that started before then may still be scanning newer ones.

The retention is ``$TRACKIT_SNAPSHOT_RETENTION`` (an interval DuckDB reads: ``1 hour``,
``7 days``), ``1 hour`` when unset.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb

from lake.ducklake import DATABASE, writing_warehouse
from lake.errors import TrackitError
from warehouse.errors import translated

RETENTION_ENV = "TRACKIT_SNAPSHOT_RETENTION"
DEFAULT_RETENTION = timedelta(hours=1)


@dataclass
class MaintenanceSummary:
    """Data files of the current snapshot before and after, and what was removed."""

    files_before: int
    files_after: int
    snapshots_expired: int
    files_deleted: int
    seconds: float

    def __str__(self) -> str:
        return (f"data files {self.files_before} → {self.files_after}, "
                f"{self.snapshots_expired} snapshots expired, {self.files_deleted} files "
                f"deleted in {self.seconds:.2f}s")


def retention_from_env() -> timedelta:
    """``$TRACKIT_SNAPSHOT_RETENTION`` as a duration (``TrackitError`` if DuckDB can't read it)."""
    text = os.environ.get(RETENTION_ENV, "").strip()
    if not text:
        return DEFAULT_RETENTION
    try:
        value = duckdb.execute("select cast(? as interval)", [text]).fetchone()[0]
    except duckdb.Error:
        raise TrackitError(f"${RETENTION_ENV}={text!r} is not an interval: write it as "
                           "'1 hour' or '7 days'") from None
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise TrackitError(f"${RETENTION_ENV}={text!r} must be a positive interval")
    return value


def current_data_files(con: duckdb.DuckDBPyConnection) -> int:
    """Data files of the latest snapshot, every table together."""
    return int(con.execute(
        f"select count(*) from __ducklake_metadata_{DATABASE}.ducklake_data_file "
        "where end_snapshot is null").fetchone()[0])


def maintain_warehouse(data_dir: Path, *, retention: timedelta = DEFAULT_RETENTION
                       ) -> MaintenanceSummary:
    """Merge small data files, expire old snapshots, delete files no snapshot needs."""
    if not data_dir.is_dir():
        raise TrackitError(f"data directory {data_dir} does not exist")
    started = time.perf_counter()
    seconds = int(retention.total_seconds())
    older_than = f"now() - interval '{seconds} seconds'"
    with translated(data_dir, "build"), writing_warehouse(data_dir) as con:
        before = current_data_files(con)
        con.execute(f"call ducklake_merge_adjacent_files('{DATABASE}')")
        expired = len(con.execute(
            f"call ducklake_expire_snapshots('{DATABASE}', older_than => {older_than})"
        ).fetchall())
        deleted = len(con.execute(
            f"call ducklake_cleanup_old_files('{DATABASE}', older_than => {older_than})"
        ).fetchall())
        after = current_data_files(con)
    return MaintenanceSummary(before, after, expired, deleted, time.perf_counter() - started)
