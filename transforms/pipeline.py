"""``transform_lake``: raw lake → the warehouse's core tables + quarantine, incremental.

A data directory still holding a legacy core lake is upgraded first, under the same lock
(``transforms.migrate_core_lake``). Only raw files missing from the ledger
(``meta.transformed_files``) are read. They are grouped into batches of at most
``batch_frames`` frames (a larger file is a batch of its own), so memory follows the batch
size, not the day. Each batch is routed by DuckDB
(``transforms.batch.route_batch``), then, in a second thread while the next batch is
routed, validated and deduplicated
(``finish_batch``), checked to reconcile, and committed to the warehouse together with
its ledger entries (``transforms.core_store``): one DuckLake snapshot per batch.

Duplicates (same key) collapse to one row within each raw file (counted in the summary);
the same key in two raw files, or already stored, is collapsed when the batch is stored,
keeping the row received first.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from lake.ducklake import writing_warehouse
from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.storage import list_parquet
from transforms.batch import (
    BatchResult,
    RoutedBatch,
    file_names,
    finish_batch,
    raw_frame_count,
    route_batch,
)
from transforms.core_store import batch_tables, ensure_core, store_batch, transformed_files
from transforms.ledger import transform_lock
from transforms.migrate_core_lake import needs_upgrade, upgrade_locked
from transforms.raw_compaction import repair_compactions
from transforms.routes import PRIMARY_TABLES

DEFAULT_BATCH_FRAMES = 250_000

log = logging.getLogger(__name__)


@dataclass
class TransformSummary:
    """What a run did: files, frames and where every frame landed."""

    files_processed: int = 0
    files_skipped: int = 0
    frames_in: int = 0
    frames_out: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    loaded_frames: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    control_frames: int = 0
    repaired_frames: int = 0
    rows_written: int = 0
    loads: list[int] = field(default_factory=list)
    seconds: float = 0.0
    upgrade: list[str] = field(default_factory=list)
    """What upgrading a legacy core lake first did (``transforms.migrate_core_lake``)."""

    @property
    def frames(self) -> int:
        return self.frames_in + self.frames_out

    @property
    def quarantined_frames(self) -> int:
        return sum(self.quarantined.values())

    @property
    def duplicate_frames(self) -> int:
        return sum(self.duplicates[t] for t in PRIMARY_TABLES)

    @property
    def reconciles(self) -> bool:
        """Every frame landed in exactly one place."""
        landed = (self.loaded_frames + self.duplicate_frames + self.quarantined_frames
                  + self.control_frames)
        return landed == self.frames

    def add(self, result: BatchResult, rows_written: int, load_id: int) -> None:
        self.files_processed += len(result.files)
        self.frames_in += result.frames_in
        self.frames_out += result.frames_out
        for table, df in result.tables.items():
            self.rows[table] += df.height
        self.rows["quarantine"] += result.quarantine.height
        self.loaded_frames += result.loaded
        self.duplicates.update(result.duplicates)
        self.quarantined.update(result.quarantined)
        self.control_frames += result.control
        self.repaired_frames += result.repaired
        self.rows_written += rows_written
        self.loads.append(load_id)


def plan_batches(files: list[Path], batch_frames: int) -> list[list[Path]]:
    """Consecutive groups of files holding at most ``batch_frames`` frames each."""
    batches: list[list[Path]] = []
    current: list[Path] = []
    size = 0
    for f in files:
        n = raw_frame_count([f])
        if current and size + n > batch_frames:
            batches.append(current)
            current, size = [], 0
        current.append(f)
        size += n
    if current:
        batches.append(current)
    return batches


def _connect(threads: int | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _check(result: BatchResult, expected_frames: int) -> None:
    if result.frames != expected_frames or result.accounted != expected_frames:
        quarantined = sum(result.quarantined.values())
        duplicates = result.accounted - result.loaded - result.control - quarantined
        raise TrackitError(
            f"transform does not reconcile for {file_names(result.files)}: "
            f"{expected_frames} frames in the raw files, {result.frames} read, "
            f"{result.accounted} accounted for (loaded {result.loaded}, quarantined "
            f"{quarantined}, control {result.control}, duplicates {duplicates})"
        )


def transform_lake(
    data_dir: Path | DataLayout,
    *,
    progress: bool = False,
    batch_frames: int = DEFAULT_BATCH_FRAMES,
    threads: int | None = None,
) -> TransformSummary:
    """Transform every raw file of ``data_dir`` not yet in the ledger into the warehouse.

    Raises ``TrackitError`` when the counts of a batch do not reconcile (nothing of that
    batch is stored) or when another transform holds the lock.
    """
    layout = data_dir if isinstance(data_dir, DataLayout) else DataLayout(Path(data_dir))
    if not layout.root.is_dir():
        raise TrackitError(f"data directory {layout.root} does not exist")
    started = time.perf_counter()
    summary = TransformSummary()
    with transform_lock(layout), writing_warehouse(layout) as warehouse:
        ensure_core(warehouse)
        if needs_upgrade(layout.root):
            summary.upgrade = upgrade_locked(layout, warehouse, progress=progress).lines()
        ledger = transformed_files(warehouse)
        repair_compactions(layout, ledger)  # a compaction cut short must not be read twice
        raw_files = list_parquet(layout.raw)
        pending = [f for f in raw_files if _key(layout, f) not in ledger]
        summary.files_skipped = len(raw_files) - len(pending)
        batches = plan_batches(pending, batch_frames)

        def finish(number: int, routed: RoutedBatch, expected: int) -> None:
            result = finish_batch(routed)
            _check(result, expected)
            stored = store_batch(warehouse, batch_tables(layout.root, result),
                                 {_key(layout, f): raw_frame_count([f]) for f in result.files})
            summary.add(result, sum(stored.rows_written.values()), stored.load_id)
            if progress:
                print(f"transform: batch {number}/{len(batches)}: {len(result.files)} files, "
                      f"{result.frames} frames, load {stored.load_id}, "
                      f"{time.perf_counter() - started:.1f}s", file=sys.stderr)

        con = _connect(threads)
        # Two stages: DuckDB (classify, route) in this thread, then validation, dedup,
        # counts and storing in the other; batch N is finished and stored while batch
        # N+1 is routed (polars, pandera's polars backend and DuckDB release the GIL), so
        # both cores stay busy. At most two batches are in memory.
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transform-finish")
        finishing: Future[None] | None = None
        try:
            for number, files in enumerate(batches, start=1):
                expected = raw_frame_count(files)
                routed = route_batch(con, files)
                if finishing is not None:
                    finishing.result()
                finishing = writer.submit(finish, number, routed, expected)
            if finishing is not None:
                finishing.result()
        finally:
            writer.shutdown(wait=True)
            con.close()
    summary.seconds = time.perf_counter() - started
    if not summary.reconciles:
        raise TrackitError("transform counts do not reconcile across batches")
    return summary


def _key(layout: DataLayout, raw_file: Path) -> str:
    return raw_file.relative_to(layout.root).as_posix()
