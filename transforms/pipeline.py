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

A raw lake on object storage (``--data s3://...``) is listed incrementally: one listing
of the keys after ``raw/date=D`` where D is ``lookback_days`` (default
``DEFAULT_LOOKBACK_DAYS``, env ``TRACKIT_RAW_LOOKBACK_DAYS``) before the newest date in
the ledger; ``full_listing`` lists every raw key (a raw file published later than that
into an older date). New objects are copied batch by batch into a local staging folder
(``DATA/state/transform/staging/``, emptied as each batch is stored) and read from there,
so the ledger, the quarantine's ``raw_file`` and the core rows are the same as for the
same files on a local disk.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from lake.ducklake import writing_warehouse
from lake.errors import TrackitError
from lake.layout import DataLayout, data_layout
from lake.object_store import ObjectStore, object_store
from lake.storage import TMP_PREFIX, list_parquet
from transforms.batch import (
    BatchResult,
    RoutedBatch,
    file_names,
    finish_batch,
    raw_frame_count,
    route_batch,
)
from transforms.core_store import batch_tables, ensure_core, store_batch, transformed_files
from transforms.ledger import ledger_dir, transform_lock
from transforms.migrate_core_lake import needs_upgrade, upgrade_locked
from transforms.raw_compaction import repair_compactions
from transforms.route_runner import RouteRunner
from transforms.routes import PRIMARY_TABLES

DEFAULT_BATCH_FRAMES = 250_000
DEFAULT_LOOKBACK_DAYS = 3
LOOKBACK_ENV = "TRACKIT_RAW_LOOKBACK_DAYS"

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


def query_threads() -> int:
    """DuckDB threads per query of a transform: half the cores (at least one).

    The transform is parallel by itself: two routes at a time, and a batch is routed
    while the writer thread stores the one before. Letting every query also spread over
    all cores oversubscribes them. On 2 cores, one thread per query: 1M frames in 24–27
    CPU s against 33–36 with DuckDB's default of one per core, and a single batch of 200 k
    frames in 5.8–6.5 s wall against 6.6–6.7 (docs/transforms.md "Performance").
    """
    return max(1, (os.cpu_count() or 2) // 2)


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


def lookback_days_from_env() -> int:
    """``TRACKIT_RAW_LOOKBACK_DAYS`` (a whole number of days, at least 0), else the default."""
    text = os.environ.get(LOOKBACK_ENV, "").strip()
    if not text:
        return DEFAULT_LOOKBACK_DAYS
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        raise TrackitError(f"{LOOKBACK_ENV} must be a whole number of days >= 0, got {text!r}")
    return days


def transform_lake(
    data_dir: Path | DataLayout,
    *,
    progress: bool = False,
    batch_frames: int = DEFAULT_BATCH_FRAMES,
    threads: int | None = None,
    lookback_days: int | None = None,
    full_listing: bool = False,
) -> TransformSummary:
    """Transform every raw file of ``data_dir`` not yet in the ledger into the warehouse.

    ``threads``: DuckDB threads per query (default ``query_threads``).

    ``lookback_days`` / ``full_listing``: how a raw lake on object storage is listed (see
    the module docstring; ``None``: ``TRACKIT_RAW_LOOKBACK_DAYS``, else the default).

    Raises ``TrackitError`` when the counts of a batch do not reconcile (nothing of that
    batch is stored) or when another transform holds the lock.
    """
    layout = data_layout(data_dir)
    if layout.remote is not None:
        layout.root.mkdir(parents=True, exist_ok=True)  # the local part: state and locks
    if not layout.root.is_dir():
        raise TrackitError(f"data directory {layout.root} does not exist")
    if lookback_days is None:
        lookback_days = lookback_days_from_env()
    started = time.perf_counter()
    summary = TransformSummary()
    with transform_lock(layout), writing_warehouse(layout) as warehouse:
        ensure_core(warehouse)
        if needs_upgrade(layout.root):
            summary.upgrade = upgrade_locked(layout, warehouse, progress=progress).lines()
        ledger = transformed_files(warehouse)
        if layout.remote is None:
            repair_compactions(layout, ledger)  # a compaction cut short must not be read twice
            raw_root = layout.root
            raw_files = list_parquet(layout.raw)
            pending = [f for f in raw_files if _key(raw_root, f) not in ledger]
            summary.files_skipped = len(raw_files) - len(pending)
            batches: list[list[Path]] | Iterator[list[Path]] = plan_batches(pending,
                                                                            batch_frames)
            batch_count = str(len(batches))
        else:
            store = object_store(layout.remote)
            raw_root = staging_dir(layout)
            shutil.rmtree(raw_root, ignore_errors=True)
            listed = list_new_raw(store, ledger, lookback_days=lookback_days,
                                  full_listing=full_listing)
            new = [key for key in listed if key not in ledger]
            summary.files_skipped = len(listed) - len(new)
            batches = _staged_batches(store, new, raw_root, batch_frames)
            batch_count = "?"

        def finish(number: int, routed: RoutedBatch, expected: int) -> None:
            result = finish_batch(routed)
            _check(result, expected)
            stored = store_batch(warehouse, batch_tables(raw_root, result),
                                 {_key(raw_root, f): raw_frame_count([f])
                                  for f in result.files})
            summary.add(result, sum(stored.rows_written.values()), stored.load_id)
            if layout.remote is not None:
                for f in result.files:
                    f.unlink(missing_ok=True)
            if progress:
                print(f"transform: batch {number}/{batch_count}: {len(result.files)} files, "
                      f"{result.frames} frames, load {stored.load_id}, "
                      f"{time.perf_counter() - started:.1f}s", file=sys.stderr)

        threads = threads or query_threads()
        con = _connect(threads)
        warehouse.execute(f"SET threads = {int(threads)}")
        runner = RouteRunner(con)
        # Two stages: DuckDB (classify, route) in this thread, then validation, dedup,
        # counts and storing in the other; batch N is finished and stored while batch
        # N+1 is routed (polars, pandera's polars backend and DuckDB release the GIL), so
        # both cores stay busy. At most two batches are in memory.
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transform-finish")
        finishing: Future[None] | None = None
        try:
            for number, files in enumerate(batches, start=1):
                expected = raw_frame_count(files)
                routed = route_batch(con, runner, files)
                if finishing is not None:
                    finishing.result()
                finishing = writer.submit(finish, number, routed, expected)
            if finishing is not None:
                finishing.result()
        except TrackitError as exc:
            if layout.remote is None:
                raise
            # name staged copies by their objects: s3://bucket/prefix/raw/...
            raise TrackitError(str(exc).replace(f"{raw_root}{os.sep}",
                                                f"{layout.remote.url()}/")) from None
        finally:
            writer.shutdown(wait=True)
            runner.close()
            con.close()
            if layout.remote is not None:
                shutil.rmtree(raw_root, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    if not summary.reconciles:
        raise TrackitError("transform counts do not reconcile across batches")
    return summary


def _key(raw_root: Path, raw_file: Path) -> str:
    return raw_file.relative_to(raw_root).as_posix()


def staging_dir(layout: DataLayout) -> Path:
    """Where the objects of the batches being transformed are copied (``raw/...`` below)."""
    return ledger_dir(layout) / "staging"


def list_new_raw(store: ObjectStore, ledger: dict[str, int], *, lookback_days: int,
                 full_listing: bool = False) -> list[str]:
    """The raw objects (keys relative to the lake) worth comparing with the ledger.

    Without ``full_listing`` and with a ledger holding raw files, one listing starts after
    ``raw/date=D`` (D: ``lookback_days`` before the newest date in the ledger), so a run
    lists only the last days, not the whole lake.
    """
    start_after = None
    newest = max((key.split("/", 2)[1] for key in ledger
                  if key.startswith("raw/date=") and key.count("/") >= 2), default=None)
    if newest is not None and not full_listing:
        try:
            before = date.fromisoformat(newest.removeprefix("date=")) - timedelta(
                days=lookback_days + 1)
            # after every key of the day before the cutoff ('~' sorts after '/'), whether
            # the server compares whole keys or names within the raw/ folder
            start_after = f"raw/date={before.isoformat()}~"
        except ValueError:
            start_after = None
    return sorted(
        listed.relative for listed in store.list("raw/", start_after=start_after)
        if listed.relative.endswith(".parquet")
        and not listed.relative.rsplit("/", 1)[-1].startswith(TMP_PREFIX)
    )


def _staged_batches(store: ObjectStore, keys: list[str], staging: Path,
                    batch_frames: int) -> Iterator[list[Path]]:
    """Copy the objects ``keys`` into ``staging`` one by one and yield them grouped as
    :func:`plan_batches` groups local files (a batch is copied only when it is needed)."""
    current: list[Path] = []
    size = 0
    for key in keys:
        local = staging / key
        local.parent.mkdir(parents=True, exist_ok=True)
        store.download(key, local)
        n = raw_frame_count([local])
        if current and size + n > batch_frames:
            yield current
            current, size = [], 0
        current.append(local)
        size += n
    if current:
        yield current
