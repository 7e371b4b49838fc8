"""Compact the small raw files of a closed hour into one file, with the ledger aware.

An ingest that rolls its journal every few seconds (``trackit ingest --roll-seconds 10``,
for a warehouse that is fresh within a minute) publishes hundreds of small raw files an
hour. Once an hour folder ``raw/date=D/hour=H/`` is closed (its hour ended more than
``grace`` ago, so no ingest publishes into it any more) and every file in it is in the
transform's ledger (``meta.transformed_files``), each run of an ingest instance's files
with consecutive ``seq`` is merged into one file:

* same columns (the raw schema), rows in ``seq`` order, every frame byte for byte;
* named as the ingest names a file, ``<instance>-<first seq>-<last seq>.parquet``, so
  the file still says exactly which ``seq`` it holds (the ingest's start-up recovery reads
  the names to know what the lake already holds);
* its Parquet key-value metadata ``trackit.compacted_from`` lists the merged files' names.

Files not named by the ingest are left as they are.

Steps for one run, all under the transform lock and the warehouse writer lock:

1. write the merged file under a temporary name, fsync it, rename it to its name;
2. in one warehouse transaction, remove the sources' ledger entries and add the merged
   file's (frames = their sum), and point quarantine rows at the merged file;
3. delete the sources.

A crash leaves one of three states, which :func:`repair_compactions` (run by every
transform before it lists the raw lake, and before every compaction) puts right without
transforming a frame twice or losing one:

* after 1, before 2: a merged file not in the ledger whose sources are all in the ledger
  and on disk → the merged file is deleted (rolled back; the next compaction redoes it);
* after 2: sources not in the ledger listed by a merged file that is → they are deleted
  (rolled forward);
* during 1: a temporary file in a closed hour, deleted once it is older than the grace.

A raw lake on object storage (``--data s3://...``) is not compacted: small objects cost
a listing entry each but no local disk, and each stays where the ingest published it
(:func:`compact_raw_lake` logs that once per process and returns an empty summary).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.rawfiles import raw_file_name
from lake.ducklake import rollback, writing_warehouse
from lake.errors import TrackitError
from lake.layout import DataLayout, data_layout, partition_start
from lake.object_store import ObjectStoreUrl
from lake.raw_schema import RAW_SCHEMA
from lake.storage import TMP_PREFIX, fsync_dir, list_parquet, publishing
from transforms.core_store import ensure_core, transformed_files
from transforms.ledger import transform_lock

COMPACTED_FROM = b"trackit.compacted_from"
"""Parquet key-value metadata of a merged raw file: the JSON list of its sources' names."""
DEFAULT_GRACE_S = 600.0
"""An hour folder is closed this long after its hour ended."""
DEFAULT_MAX_FRAMES = 2_000_000
"""At most this many frames go into one merged file (a longer run is cut)."""
ROW_GROUP_ROWS = 128 * 1024

_RAW_NAME = re.compile(r"(?P<instance>.+)-(?P<first>\d{16})-(?P<last>\d{16})\.parquet")

log = logging.getLogger(__name__)
_REMOTE_NOTED: set[ObjectStoreUrl] = set()


@dataclass(frozen=True)
class RawName:
    """A raw file named by the ingest: whose frames ``first..last`` it holds."""

    path: Path
    instance: str
    first: int
    last: int

    @classmethod
    def parse(cls, path: Path) -> RawName | None:
        match = _RAW_NAME.fullmatch(path.name)
        if match is None or path.name.startswith(TMP_PREFIX):
            return None
        return cls(path, match["instance"], int(match["first"]), int(match["last"]))

    def covers(self, other: RawName) -> bool:
        return (self.instance == other.instance and self.path != other.path
                and self.first <= other.first and other.last <= self.last)


@dataclass
class CompactionSummary:
    """What a compaction did."""

    hours: int = 0
    files_merged: int = 0
    files_written: int = 0
    frames: int = 0
    repaired: int = 0
    temps_removed: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def compacted_from(path: Path) -> list[str] | None:
    """The source names a merged raw file lists, ``None`` for any other file."""
    metadata = pq.read_schema(path).metadata or {}
    if COMPACTED_FROM not in metadata:
        return None
    return list(json.loads(metadata[COMPACTED_FROM]))


def _key(layout: DataLayout, path: Path) -> str:
    return path.relative_to(layout.root).as_posix()


def _unlink_all(paths: Iterable[Path]) -> int:
    folders: set[Path] = set()
    removed = 0
    for path in paths:
        if path.exists():
            path.unlink()
            folders.add(path.parent)
            removed += 1
    for folder in folders:
        fsync_dir(folder)
    return removed


def repair_compactions(layout: DataLayout, ledger: dict[str, int]) -> int:
    """Finish or roll back the compactions a crash cut short; how many files it deleted.

    Call it holding the transform lock, with ``ledger`` read from the warehouse. It
    changes only files (never the ledger), and reads the footers of only the files whose
    names overlap another file's.
    """
    by_folder: dict[Path, list[RawName]] = defaultdict(list)
    pending: list[RawName] = []
    for path in list_parquet(layout.raw):
        name = RawName.parse(path)
        if name is None:
            continue
        by_folder[path.parent].append(name)
        if _key(layout, path) not in ledger:
            pending.append(name)
    sources_of: dict[Path, list[str] | None] = {}

    def listed_sources(merged: RawName) -> list[str]:
        if merged.path not in sources_of:
            sources_of[merged.path] = compacted_from(merged.path)
        return sources_of[merged.path] or []

    deleted = 0
    for name in pending:
        siblings = by_folder[name.path.parent]
        merged = [s for s in siblings if s.covers(name) and _key(layout, s.path) in ledger]
        if any(name.path.name in listed_sources(m) for m in merged):
            log.warning("raw compaction: %s was merged into a transformed file; deleting it "
                        "(a compaction was cut short after its ledger commit)", name.path)
            deleted += _unlink_all([name.path])
            continue
        if not any(name.covers(s) for s in siblings):
            continue
        sources = compacted_from(name.path)
        if sources is None:
            continue
        source_paths = [name.path.parent / s for s in sources]
        if all(p.is_file() and _key(layout, p) in ledger for p in source_paths):
            log.warning("raw compaction: %s was not committed; deleting it (its %d source "
                        "files are kept)", name.path, len(sources))
            deleted += _unlink_all([name.path])
        else:
            log.warning("raw compaction: %s is not in the ledger and some of its sources "
                        "are gone: keeping it for the transform", name.path)
    return deleted


def closed_hour_folders(layout: DataLayout, now: datetime, grace_s: float) -> list[Path]:
    """Hour folders of the raw lake whose hour ended ``grace_s`` or more before ``now``."""
    folders = []
    for folder in sorted(layout.raw.glob("date=*/hour=*")):
        try:
            start = partition_start(folder / "x.parquet")
        except ValueError:
            continue
        if folder.is_dir() and start + timedelta(hours=1, seconds=grace_s) <= now:
            folders.append(folder)
    return folders


def plan_runs(names: list[RawName], max_frames: int) -> list[list[RawName]]:
    """Groups of two or more files of one instance with consecutive ``seq``, in order."""
    runs: list[list[RawName]] = []
    by_instance: dict[str, list[RawName]] = defaultdict(list)
    for name in names:
        by_instance[name.instance].append(name)
    for instance_files in by_instance.values():
        current: list[RawName] = []
        for name in sorted(instance_files, key=lambda n: n.first):
            size = name.last - current[0].first + 1 if current else 0
            if current and (name.first != current[-1].last + 1 or size > max_frames):
                runs.append(current)
                current = []
            current.append(name)
        runs.append(current)
    return [run for run in runs if len(run) > 1]


def _write_merged(run: list[RawName], final: Path) -> int:
    """Step 1: the sources' rows, in order, as one file published under ``final``."""
    names = [n.path.name for n in run]
    schema = RAW_SCHEMA.with_metadata({COMPACTED_FROM: json.dumps(names).encode()})
    rows = 0
    with publishing(final) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as out:
        pending: list[pa.Table] = []
        held = 0
        for name in run:
            table = pq.read_table(name.path)
            if not table.schema.equals(RAW_SCHEMA):
                raise _NotCompactable(f"{name.path} does not have the raw schema")
            pending.append(table)
            held += table.num_rows
            if held >= ROW_GROUP_ROWS:
                out.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
                rows += held
                pending, held = [], 0
        if pending:
            out.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
            rows += held
    return rows


def _swap_ledger(con: duckdb.DuckDBPyConnection, layout: DataLayout, run: list[RawName],
                 final: Path, frames: int) -> None:
    """Step 2: the sources' ledger entries become the merged file's, in one transaction."""
    sources = [_key(layout, n.path) for n in run]
    con.execute("begin transaction")
    try:
        entries = con.execute(
            "select count(*), sum(frames), max(load_id) from meta.transformed_files "
            "where list_contains(?, path)", [sources]).fetchone()
        if entries[0] != len(sources) or entries[1] != frames:
            raise _NotCompactable(
                f"the ledger holds {entries[0]} of the {len(sources)} files with "
                f"{entries[1]} frames, the files {frames}")
        con.execute("delete from meta.transformed_files where list_contains(?, path)",
                    [sources])
        con.execute("insert into meta.transformed_files values (?, ?, ?)",
                    [_key(layout, final), frames, entries[2]])
        quarantined = con.execute(
            "select count(*) from core.quarantine where list_contains(?, raw_file)",
            [sources]).fetchone()[0]
        if quarantined:
            con.execute("update core.quarantine set raw_file = ? "
                        "where list_contains(?, raw_file)", [_key(layout, final), sources])
        con.execute("commit")
    except BaseException:
        rollback(con)
        raise


def _delete_sources(run: list[RawName]) -> None:
    """Step 3: the merged files go."""
    _unlink_all(n.path for n in run)


class _NotCompactable(Exception):
    """A run that is left as it is (the message says why)."""


def _compact_run(con: duckdb.DuckDBPyConnection, layout: DataLayout,
                 run: list[RawName]) -> int:
    final = run[0].path.parent / raw_file_name(run[0].instance, run[0].first, run[-1].last)
    frames = _write_merged(run, final)
    if pq.ParquetFile(final).metadata.num_rows != frames:
        final.unlink()
        raise _NotCompactable(f"{final} does not hold the {frames} frames written")
    try:
        _swap_ledger(con, layout, run, final, frames)
    except _NotCompactable:
        _unlink_all([final])
        raise
    _delete_sources(run)
    return frames


def _remove_old_temps(folder: Path, now: datetime, grace_s: float) -> int:
    """Temporary files of writes cut short, older than the grace (none is still written)."""
    removed = 0
    for path in folder.glob(f"{TMP_PREFIX}*"):
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if path.is_file() and modified + timedelta(seconds=grace_s) <= now:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def compact_closed_hours(
    con: duckdb.DuckDBPyConnection, layout: DataLayout, *, now: datetime | None = None,
    grace_s: float = DEFAULT_GRACE_S, max_frames: int = DEFAULT_MAX_FRAMES,
) -> CompactionSummary:
    """Compact every closed, fully transformed hour folder (see the module).

    The caller holds the transform lock and ``con`` is the warehouse opened for writing.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    summary = CompactionSummary()
    ensure_core(con)
    ledger = transformed_files(con)
    summary.repaired = repair_compactions(layout, ledger)
    for folder in closed_hour_folders(layout, now, grace_s):
        summary.temps_removed += _remove_old_temps(folder, now, grace_s)
        files = list_parquet(folder)
        if len(files) < 2 or any(_key(layout, f) not in ledger for f in files):
            continue
        names = [n for f in files if (n := RawName.parse(f)) is not None]
        runs = plan_runs(names, max_frames)
        for run in runs:
            try:
                summary.frames += _compact_run(con, layout, run)
            except _NotCompactable as exc:
                summary.skipped.append(f"{folder}: {exc}")
                log.warning("raw compaction: left %s as it is: %s", folder, exc)
                continue
            summary.files_merged += len(run)
            summary.files_written += 1
        summary.hours += bool(runs)
    summary.seconds = time.perf_counter() - started
    return summary


def compact_raw_lake(
    data_dir: Path | DataLayout, *, now: datetime | None = None,
    grace_s: float = DEFAULT_GRACE_S, max_frames: int = DEFAULT_MAX_FRAMES,
) -> CompactionSummary:
    """Take the transform lock and the warehouse, then :func:`compact_closed_hours`.

    A raw lake on object storage is left as it is (see the module)."""
    layout = data_layout(data_dir)
    if layout.remote is not None:
        if layout.remote not in _REMOTE_NOTED:
            _REMOTE_NOTED.add(layout.remote)
            log.info("raw compaction: the raw lake on %s is not compacted (object storage)",
                     layout.remote)
        return CompactionSummary()
    if not layout.root.is_dir():
        raise TrackitError(f"data directory {layout.root} does not exist")
    folders = closed_hour_folders(layout, now or datetime.now(UTC), grace_s)
    if not any(len(list_parquet(f)) > 1 or any(f.glob(f"{TMP_PREFIX}*")) for f in folders):
        return CompactionSummary()  # nothing to do: the warehouse is not opened
    with transform_lock(layout), writing_warehouse(layout.root) as con:
        return compact_closed_hours(con, layout, now=now, grace_s=grace_s,
                                    max_frames=max_frames)
