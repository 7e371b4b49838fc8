"""``transform_lake``: raw lake → core lake + quarantine, incremental and idempotent.

Only raw files missing from the ledger are read. They are grouped into batches of at most
``batch_frames`` frames (a larger file is a batch of its own), so memory follows the batch
size, not the day. Each batch is routed by DuckDB (``transforms.batch.route_batch``), then,
in a second thread while the next batch is routed, validated and deduplicated
(``finish_batch``), checked to reconcile, published file by file, and only then recorded
in the ledger.

Under the lock, a run first removes the temporary files a killed run left in the folders
the transform publishes into (``core/``, ``quarantine/``, the ledger's folder; never
``raw/``, where a running ingest writes its own). ``redo`` names files to write again:
each core, quarantine or raw file given sends its raw file back through the transform.

Duplicates (same key) collapse to one row within each raw file; the same key in two raw
files is collapsed by the warehouse load, which dedups on the same keys. Per raw file
(rather than per run) keeps every output file a function of its raw file alone, so a
rerun writes byte-identical files whatever else the run contained.
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

from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.storage import list_parquet, remove_stale_temps
from transforms.batch import (
    BatchResult,
    RoutedBatch,
    file_names,
    finish_batch,
    raw_frame_count,
    route_batch,
)
from transforms.ledger import ledger_dir, load_ledger, save_ledger, transform_lock
from transforms.publish import (
    legacy_output_paths,
    publish_batch,
    raw_date,
    raw_file_of,
)
from transforms.raw_names import output_name
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
    files_written: int = 0
    seconds: float = 0.0
    temps_removed: int = 0
    redone: list[str] = field(default_factory=list)

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

    def add(self, result: BatchResult, files_written: int) -> None:
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
        self.files_written += files_written


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
    data_dir: Path,
    *,
    progress: bool = False,
    batch_frames: int = DEFAULT_BATCH_FRAMES,
    durable: bool = True,
    threads: int | None = None,
    redo: list[Path] | None = None,
) -> TransformSummary:
    """Transform every raw file of ``data_dir`` not yet in the ledger.

    ``redo``: core, quarantine or raw files to write again (their raw files are
    transformed again; a named core or quarantine file is deleted first).
    Raises ``TrackitError`` when the counts of a batch do not reconcile (nothing of that
    batch is published) or when another transform holds the lock.
    """
    layout = DataLayout(Path(data_dir))
    if not layout.root.is_dir():
        raise TrackitError(f"data directory {layout.root} does not exist")
    started = time.perf_counter()
    summary = TransformSummary()
    with transform_lock(layout):
        summary.temps_removed = remove_leftovers(layout)
        ledger = load_ledger(layout)
        if redo:
            _forget(layout, ledger, redo, summary)
        raw_files = list_parquet(layout.raw)
        check_output_names(raw_files)
        pending = [f for f in raw_files if _key(layout, f) not in ledger]
        summary.files_skipped = len(raw_files) - len(pending)
        batches = plan_batches(pending, batch_frames)

        def finish(number: int, routed: RoutedBatch, expected: int) -> None:
            result = finish_batch(routed)
            _check(result, expected)
            written = publish_batch(layout, result, durable=durable)
            for f in result.files:
                ledger[_key(layout, f)] = raw_frame_count([f])
            save_ledger(layout, ledger)  # only after every output of the batch is out
            summary.add(result, written)
            if progress:
                print(f"transform: batch {number}/{len(batches)}: {len(result.files)} files, "
                      f"{result.frames} frames, {time.perf_counter() - started:.1f}s",
                      file=sys.stderr)

        con = _connect(threads)
        # Two stages: DuckDB (classify, route) in this thread, then validation, dedup,
        # counts and writing in the other; batch N is finished and written while batch
        # N+1 is routed (polars, pandera's polars backend and pyarrow's writer release the
        # GIL), so both cores stay busy. At most two batches are in memory.
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


def _forget(layout: DataLayout, ledger: dict[str, int], redo: list[Path],
            summary: TransformSummary) -> None:
    """Take the raw files of ``redo`` out of the ledger (saved at once, so a crash still
    redoes them), then delete the named core and quarantine files."""
    raw_files = {path: raw_file_of(layout, path) for path in redo}
    for raw_file in raw_files.values():
        ledger.pop(_key(layout, raw_file), None)
        if _key(layout, raw_file) not in summary.redone:
            summary.redone.append(_key(layout, raw_file))
    save_ledger(layout, ledger)
    for path, raw_file in raw_files.items():
        if path.resolve() != raw_file.resolve():
            path.unlink(missing_ok=True)
        # files under the bare-stem names of an older core lake would be loaded twice
        for legacy in legacy_output_paths(layout, raw_file).values():
            legacy.unlink(missing_ok=True)


def remove_leftovers(layout: DataLayout) -> int:
    """Delete the temporary files of a killed transform (call under the transform lock)."""
    removed = (remove_stale_temps(layout.core, recursive=True)
               + remove_stale_temps(layout.quarantine, recursive=True)
               + remove_stale_temps(ledger_dir(layout)))
    if removed:
        log.warning("transform: removed %d temporary file(s) left by an unfinished run",
                    removed)
    return removed


def check_output_names(raw_files: list[Path]) -> None:
    """Refuse raw files that would write the same output files (same date and output
    name: only folder names holding ``__`` can make two paths meet)."""
    seen: dict[tuple[str, str], Path] = {}
    for f in raw_files:
        try:
            name = (raw_date(f), output_name(f))
        except ValueError as exc:
            raise TrackitError(str(exc)) from None
        if name in seen:
            raise TrackitError(f"raw files {seen[name]} and {f} have the same name on the "
                               f"same day: their core files would collide")
        seen[name] = f


def _key(layout: DataLayout, raw_file: Path) -> str:
    return raw_file.relative_to(layout.root).as_posix()
