"""Load the core lake into the warehouse's ``core`` schema, incrementally.

Only core-lake files not loaded yet (or rewritten since: new size or mtime) are read; the
ledger ``meta.loaded_files`` remembers the rest. Files may repeat keys (duplicates, late
data): each table is deduplicated on its declared key, keeping the row received first
(smallest ``received_at``, then ``seq``), so the result does not depend on load order.
Every inserted or replaced row is stamped with the load's id (``_load_id``), which is how
the marts find what is new. A load is one transaction: all of it or nothing. It also
brings in the named places when ``trackit places import`` changed them (``warehouse.places``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lake.layout import DataLayout
from lake.storage import TMP_PREFIX, is_disk_full, list_parquet
from schemas.core_tables import CORE_TABLES, CoreTable
from warehouse.database import LOAD_ID, connect, discard_builder
from warehouse.errors import CorruptCoreFileError, first_line, is_corrupt_database
from warehouse.places import replace_places, staged_places

log = logging.getLogger(__name__)

COMMAND_STATUS_SQL = files("warehouse").joinpath("command_status.sql").read_text()


@dataclass
class LoadSummary:
    """What one load did."""

    load_id: int | None
    files: int = 0
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)

    @property
    def nothing_new(self) -> bool:
        return self.load_id is None


def table_folder(layout: DataLayout, table: str) -> Path:
    """Where a core table's files live (the quarantine has its own top-level folder)."""
    return layout.quarantine if table == "quarantine" else layout.core_table(table)


FileEntry = tuple[Path, str, int, int]  # path, relative path, size, mtime_ns


def _folders_to_list(con: duckdb.DuckDBPyConnection, folder: Path, root: Path
                     ) -> tuple[list[Path], list[tuple[str, int]]]:
    """The date folders of ``folder`` changed since they were last listed, and their mtimes.

    A file is only ever published into a folder by a rename (``lake.storage``), which
    changes the folder's mtime, so an unchanged folder holds no new or rewritten file. The
    mtime is read before listing: a file landing meanwhile changes it again.
    """
    known = dict(con.execute("select path, mtime_ns from meta.scanned_dirs").fetchall())
    changed: list[Path] = []
    seen: list[tuple[str, int]] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not entry.is_dir():
            continue
        rel = Path(entry.path).relative_to(root).as_posix()
        mtime = entry.stat().st_mtime_ns
        if known.get(rel) != mtime:
            changed.append(Path(entry.path))
            seen.append((rel, mtime))
    return changed, seen


def _new_files(
    con: duckdb.DuckDBPyConnection, layout: DataLayout
) -> tuple[dict[str, list[FileEntry]], list[tuple[str, int]]]:
    """Per table, the files not in the ledger (or changed since), and the folders listed."""
    known = {
        path: (size, mtime)
        for path, size, mtime in con.execute(
            "select path, size_bytes, mtime_ns from meta.loaded_files"
        ).fetchall()
    }
    found: dict[str, list[FileEntry]] = {}
    listed: list[tuple[str, int]] = []
    for name in CORE_TABLES:
        folder = table_folder(layout, name)
        if not folder.is_dir():
            continue
        changed, seen = _folders_to_list(con, folder, layout.root)
        listed.extend(seen)
        loose = [p for p in folder.glob("*.parquet") if not p.name.startswith(TMP_PREFIX)]
        for path in loose + [p for sub in changed for p in list_parquet(sub)]:
            stat = path.stat()
            rel = path.relative_to(layout.root).as_posix()
            if known.get(rel) != (stat.st_size, stat.st_mtime_ns):
                found.setdefault(name, []).append((path, rel, stat.st_size, stat.st_mtime_ns))
    return found, listed


def _remember_listed(con: duckdb.DuckDBPyConnection, listed: list[tuple[str, int]]) -> None:
    if listed:
        con.executemany("insert or replace into meta.scanned_dirs values (?, ?)", listed)


def _order_columns(table: CoreTable) -> str:
    names = table.column_names
    return ", ".join(c for c in ("received_at", "sent_at", "seq") if c in names)


def _load_table(
    con: duckdb.DuckDBPyConnection, table: CoreTable, paths: list[Path], load_id: int
) -> tuple[int, int]:
    """Upsert one table's new files; returns (rows read, rows inserted or replaced)."""
    in_files = {
        row[0] for row in con.execute(
            "describe select * from read_parquet($paths, union_by_name = true, "
            "hive_partitioning = false)", {"paths": [str(p) for p in paths]},
        ).fetchall()
    }
    # a column declared after these files were written is NULL in them
    casts = ", ".join(
        f"cast({c.name if c.name in in_files else 'null'} as {c.type}) as {c.name}"
        for c in table.columns
    )
    key = ", ".join(table.key)
    order = _order_columns(table)
    con.execute(
        f"""
        create or replace temp table batch as
        select {casts}, cast($load_id as bigint) as {LOAD_ID}
        from read_parquet($paths, union_by_name = true, hive_partitioning = false)
        """,
        {"paths": [str(p) for p in paths], "load_id": load_id},
    )
    rows_read = con.execute("select count(*) from batch").fetchone()[0]
    non_key = [c for c in [*table.column_names, LOAD_ID] if c not in table.key]
    updates = ", ".join(f"{c} = excluded.{c}" for c in non_key)
    older = f"({', '.join('excluded.' + c for c in order.split(', '))}) < ({order})"
    # the count DuckDB returns is of the rows inserted or updated (a kept row is neither)
    written = con.execute(
        f"""
        insert into core.{table.name} by name
        select * from batch
        qualify row_number() over (partition by {key} order by {order}) = 1
        on conflict do update set {updates} where {older}
        """
    ).fetchone()[0]
    con.execute("drop table batch")
    return rows_read, int(written)


def unreadable_core_file(data_dir: Path, paths: list[Path], exc: BaseException
                         ) -> CorruptCoreFileError:
    """Which of ``paths`` cannot be read, and how to write it again from its raw file."""
    culprit = None
    for path in paths:
        try:
            pq.read_table(path)
        except (OSError, pa.ArrowException) as error:
            culprit, exc = path, error
            break
    if culprit is None:
        shown = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        return CorruptCoreFileError(f"cannot read core files {shown}: {first_line(exc)}")
    return CorruptCoreFileError(
        f"core file {culprit} is unreadable ({first_line(exc)}): run `trackit transform "
        f"--data {data_dir} --redo {culprit}` to write it again from its raw file, then "
        "rerun `trackit build`"
    )


def _update_command_status(con: duckdb.DuckDBPyConnection, load_id: int) -> None:
    con.execute(
        f"""
        update core.commands as c
        set status = s.status, replied_at = s.replied_at
        from ({COMMAND_STATUS_SQL}) as s
        where c.uid = s.uid and c.command = s.command and c.sent_at = s.sent_at
        """,
        {"load_id": load_id},
    )


def load_core_into(con: duckdb.DuckDBPyConnection, data_dir: Path) -> LoadSummary:
    """Load every new core-lake file into ``core.*`` on an open builder connection."""
    layout = DataLayout(data_dir)
    new, listed = _new_files(con, layout)
    places = staged_places(con, data_dir)
    if not new and places is None:
        _remember_listed(con, listed)
        log.info("load: no new core-lake files")
        return LoadSummary(load_id=None)
    load_id = int(con.execute("select coalesce(max(load_id), 0) + 1 from meta.loads").fetchone()[0])
    summary = LoadSummary(load_id=load_id)
    con.execute("begin transaction")
    try:
        for name, entries in new.items():
            paths = [e[0] for e in entries]
            try:
                read, written = _load_table(con, CORE_TABLES[name], paths, load_id)
            except (duckdb.IOException, duckdb.InvalidInputException) as exc:
                if is_disk_full(exc):
                    raise
                raise unreadable_core_file(data_dir, paths, exc) from None
            summary.files += len(entries)
            summary.rows_read[name] = read
            summary.rows_written[name] = written
            log.info("load %d: core.%s %d rows from %d files (%d new or replaced)",
                     load_id, name, read, len(entries), written)
            con.executemany(
                "insert or replace into meta.loaded_files values (?, ?, ?, ?, ?)",
                [(rel, name, size, mtime, load_id) for _, rel, size, mtime in entries],
            )
        if places is not None:
            count = replace_places(con, places, load_id)
            summary.rows_read["places"] = summary.rows_written["places"] = count
            log.info("load %d: core.places replaced by %d places from %s", load_id, count,
                     layout.root / "reference")
        _update_command_status(con, load_id)
        _remember_listed(con, listed)
        con.execute(
            "insert into meta.loads values (?, ?, ?, ?)",
            [load_id, datetime.now(UTC), summary.files, sum(summary.rows_read.values())],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return summary


def load_core(data_dir: Path) -> LoadSummary:
    """Load the core-lake files not loaded yet into the builder's database.

    A damaged builder's database is discarded and the whole core lake loaded afresh.
    """
    try:
        with connect(data_dir, rebuild_if_damaged=True) as con:
            return load_core_into(con, data_dir)
    except duckdb.Error as exc:
        if not is_corrupt_database(exc):
            raise
        discard_builder(data_dir, first_line(exc))
    with connect(data_dir) as con:
        return load_core_into(con, data_dir)
