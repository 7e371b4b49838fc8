"""Upgrade a data directory written with a core Parquet lake to the DuckLake warehouse.

A data directory of the release before the DuckLake warehouse holds the core tables as
Parquet files (``core/<table>/date=D/<name>.parquet``, ``quarantine/date=D/<name>.parquet``,
one file per raw file per table), the transform ledger ``state/transform/ledger.json``, and
two DuckDB files derived from them (``warehouse.duckdb``, ``state/warehouse/build.duckdb``
with its marker ``published.json``), which this DuckDB version cannot open and never needs.

``upgrade`` (``trackit upgrade``, and the first ``trackit transform`` or ``trackit build``
on such a directory) does, under the transform lock:

1. in ONE DuckLake transaction: every core-lake table and the quarantine into ``core.*``,
   deduplicated on each table's key keeping the row received first (the rule of
   ``transforms.core_store``); the ledger into ``meta.transformed_files``; one
   ``meta.loads`` row (so the next build computes every mart from it); one
   ``meta.upgrades`` row naming the folder the legacy files go to. Before committing, the
   rows of every table are counted both ways (distinct keys of the legacy files, rows
   stored); a mismatch rolls everything back.
2. moves every legacy file into ``legacy/<UTC timestamp>/``, keeping its relative path,
   by renames; nothing is deleted.

A crash before the commit leaves the old layout (and at most DuckLake data files no
snapshot references); the next run starts over. A crash after it leaves the
``meta.upgrades`` row: the next run only moves what is still in place. A raw file of the
ledger without any core or quarantine file, or with an unreadable one, is left out of
``meta.transformed_files``, so the next transform reads it again.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lake.ducklake import rollback, writing_warehouse
from lake.errors import TrackitError
from lake.layout import DataLayout, partition_date
from lake.storage import fsync_dir, list_parquet
from schemas.core_tables import CORE_TABLES, CoreTable
from transforms.core_store import LOAD_ID, ensure_core, receipt_order
from transforms.ledger import ledger_dir, transform_lock
from transforms.raw_names import below_date

log = logging.getLogger(__name__)

LEGACY_FOLDER = "legacy"
"""Where the legacy files go, one ``<UTC timestamp>`` folder per upgrade."""

OUTPUT_NAME_SEPARATOR = "__"
"""The legacy output name joins a raw file's folders below ``date=`` with this
(``raw/date=D/hour=05/x.parquet`` → ``hour=05__x.parquet``); older lakes used the bare
stem (``x.parquet``)."""

UPGRADES_DDL = """
create table if not exists meta.upgrades (
    load_id bigint not null,        -- the meta.loads row of the legacy core lake
    upgraded_at timestamptz not null,
    legacy_dir varchar not null,    -- where the legacy files go, relative to the data dir
    items varchar not null          -- JSON list of the legacy paths moved there
)
"""


def ledger_json(layout: DataLayout) -> Path:
    return ledger_dir(layout) / "ledger.json"


def _builder_dir(layout: DataLayout) -> Path:
    return layout.state / "warehouse"


def data_items(layout: DataLayout) -> list[Path]:
    """The legacy paths holding data: the core lake, the quarantine and the ledger."""
    return [layout.legacy_core, layout.legacy_quarantine, ledger_json(layout)]


def derived_items(layout: DataLayout) -> list[Path]:
    """The legacy DuckDB files, derived from the core lake (never opened here)."""
    builder = _builder_dir(layout)
    published = layout.legacy_warehouse_file
    return [published, published.with_name(published.name + ".wal"),
            builder / "build.duckdb", builder / "build.duckdb.wal",
            builder / "published.json"]


def legacy_items(layout: DataLayout) -> list[Path]:
    """Every legacy path present in the data directory."""
    return [p for p in [*data_items(layout), *derived_items(layout)] if p.exists()]


def needs_upgrade(data_dir: Path) -> bool:
    """Whether ``data_dir`` still holds files of the release with a core Parquet lake."""
    return bool(legacy_items(DataLayout(Path(data_dir))))


@dataclass
class TableCount:
    """One table's rows, in the legacy files and in the warehouse."""

    name: str
    files: int = 0
    rows_in_files: int = 0
    rows_deduplicated: int = 0
    rows_stored: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_deduplicated == self.rows_stored

    @property
    def shown(self) -> str:
        return "quarantine" if self.name == "quarantine" else f"core.{self.name}"

    def progress(self) -> str:
        return (f"upgrade: {self.shown}: {self.files} files, {self.rows_in_files} rows, "
                f"{self.rows_deduplicated} after dedup, {self.rows_stored} stored")

    def line(self) -> str:
        return (f"  {self.shown:<24}{self.files:>7}{self.rows_in_files:>12}"
                f"{self.rows_deduplicated:>14}{self.rows_stored:>14}"
                f"   {'ok' if self.reconciles else 'DOES NOT RECONCILE'}")


@dataclass
class UpgradeReport:
    """What an upgrade did (or found), as lines to print."""

    root: Path
    action: str  # "upgraded", "resumed", "moved", "already", "nothing"
    load_id: int | None = None
    legacy_dir: Path | None = None
    tables: list[TableCount] = field(default_factory=list)
    ledger_files: int = 0
    ledger_stored: int = 0
    left_out: dict[str, str] = field(default_factory=dict)  # raw file → why
    ignored: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    upgraded_at: datetime | None = None

    def lines(self) -> list[str]:
        if self.action == "nothing":
            return [f"upgrade: nothing to upgrade: {self.root} has no legacy core lake "
                    "(core/, quarantine/, state/transform/ledger.json) nor warehouse.duckdb"]
        if self.action == "already":
            return [f"upgrade: {self.root} is already upgraded (load {self.load_id}, "
                    f"{self.upgraded_at:%Y-%m-%d %H:%M} UTC); its legacy files went to "
                    f"{self.legacy_dir}"]
        lines: list[str] = []
        if self.action == "upgraded":
            lines.append(f"upgrade: the legacy core lake is in the warehouse "
                         f"{DataLayout(self.root).warehouse} as load {self.load_id}")
            lines.append(f"  {'table':<24}{'files':>7}{'rows':>12}{'deduplicated':>14}"
                         f"{'in warehouse':>14}")
            lines += [t.line() for t in self.tables]
            lines.append(f"  ledger: {self.ledger_files} raw files in ledger.json, "
                         f"{self.ledger_stored} in meta.transformed_files"
                         + (f", {len(self.left_out)} left out" if self.left_out else ""))
            lines += [f"  left out (the next transform reads it again): {raw}: {why}"
                      for raw, why in sorted(self.left_out.items())]
            lines += [f"  not a core table any more, not loaded: {name}"
                      for name in self.ignored]
        elif self.action == "resumed":
            lines.append(f"upgrade: finishing the upgrade committed as load {self.load_id} "
                         "(its legacy files were not all moved)")
        else:
            lines.append("upgrade: no legacy core lake, only the legacy DuckDB files")
        if self.moved:
            lines.append(f"upgrade: moved {', '.join(self.moved)} to {self.legacy_dir}")
        lines.append(f"upgrade: nothing was deleted; delete {self.legacy_dir} once you are "
                     "satisfied with the upgraded warehouse (`trackit build`, then query it)")
        return lines


@dataclass(frozen=True)
class _LegacyFile:
    path: Path
    rows: int
    columns: frozenset[str]


@dataclass
class _LegacyLake:
    """The legacy core lake as found: readable files per table, and the ledger."""

    files: dict[str, list[_LegacyFile]]
    ledger: dict[str, int]
    left_out: dict[str, str]
    ignored: list[str]


def _read_ledger(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {str(k): int(v) for k, v in data["files"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TrackitError(f"the legacy transform ledger {path} is unreadable ({exc}): "
                           "restore it from a backup, or delete it to transform every raw "
                           "file again, then rerun `trackit upgrade`") from None


def _output_names(raw_key: str) -> tuple[str, str]:
    """The (date, names) under which a raw file's legacy core files may be found."""
    raw = Path(raw_key)
    *folders, name = below_date(raw)
    stem = Path(name).stem
    return partition_date(raw), OUTPUT_NAME_SEPARATOR.join([*folders, stem])


def _table_files(layout: DataLayout) -> tuple[dict[str, list[Path]], list[str]]:
    files = {name: list_parquet(layout.legacy_core_table(name)) for name in CORE_TABLES
             if name != "quarantine"}
    files["quarantine"] = list_parquet(layout.legacy_quarantine)
    ignored = sorted(f"core/{p.name}" for p in layout.legacy_core.glob("*")
                     if p.is_dir() and p.name not in CORE_TABLES)
    return files, ignored


def _survey(layout: DataLayout) -> _LegacyLake:
    """Find the legacy files, check each one's footer, and match them to the ledger."""
    ledger = _read_ledger(ledger_json(layout))
    by_name: dict[tuple[str, str], list[str]] = defaultdict(list)
    for raw_key in ledger:
        date, name = _output_names(raw_key)
        by_name[(date, name)].append(raw_key)
        by_name[(date, Path(raw_key).stem)].append(raw_key)
    files, ignored = _table_files(layout)
    with_files: set[str] = set()
    left_out: dict[str, str] = {}
    readable: dict[str, list[_LegacyFile]] = {}
    for table, paths in files.items():
        readable[table] = []
        for path in paths:
            try:
                raw_keys = by_name.get((partition_date(path), path.stem), [])
            except ValueError:
                raw_keys = []
            with_files.update(raw_keys)
            try:
                footer = pq.read_metadata(path)
            except (OSError, pa.ArrowException) as exc:
                shown = path.relative_to(layout.root).as_posix()
                for raw_key in raw_keys:
                    left_out[raw_key] = f"its core file {shown} is unreadable ({exc})"
                log.warning("legacy core file %s is unreadable (%s): not loaded", path, exc)
                continue
            readable[table].append(_LegacyFile(path, footer.num_rows,
                                               frozenset(footer.schema.names)))
    for raw_key, frames in ledger.items():
        if frames and raw_key not in with_files:
            left_out.setdefault(raw_key, "no core or quarantine file")
    kept = {k: v for k, v in ledger.items() if k not in left_out}
    return _LegacyLake(readable, kept, left_out, ignored)


def _select(table: CoreTable, files: list[_LegacyFile]) -> str:
    """The legacy rows of ``table`` in its declared columns (NULL where a file predates
    one), deduplicated on its key keeping the row received first."""
    present = frozenset().union(*(f.columns for f in files))
    casts = ", ".join(f"cast({c.name if c.name in present else 'null'} as {c.type}) "
                      f"as {c.name}" for c in table.columns)
    return (f"select {casts} from read_parquet($paths, union_by_name = true, "
            f"hive_partitioning = false) qualify row_number() over "
            f"(partition by {', '.join(table.key)} order by {', '.join(receipt_order(table))})"
            " = 1")


def _load_table(con: duckdb.DuckDBPyConnection, table: CoreTable, files: list[_LegacyFile],
                load_id: int) -> TableCount:
    count = TableCount(table.name, files=len(files))
    before = con.execute(f"select count(*) from core.{table.name}").fetchone()[0]
    if files:
        params = {"paths": [str(f.path) for f in files]}
        count.rows_in_files = sum(f.rows for f in files)
        count.rows_deduplicated = con.execute(
            f"select count(*) from (select distinct {', '.join(table.key)} from "
            "read_parquet($paths, union_by_name = true, hive_partitioning = false))",
            params).fetchone()[0]
        con.execute(f"insert into core.{table.name} by name select *, "
                    f"cast({load_id} as bigint) as {LOAD_ID} from ({_select(table, files)})",
                    params)
    after = con.execute(f"select count(*) from core.{table.name}").fetchone()[0]
    count.rows_stored = after - before
    return count


def _commit(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("commit")


def _existing_upgrade(con: duckdb.DuckDBPyConnection) -> tuple[int, datetime, str,
                                                                list[str]] | None:
    known = con.execute("select count(*) from information_schema.tables where "
                        "table_catalog = current_database() and table_schema = 'meta' "
                        "and table_name = 'upgrades'").fetchone()[0]
    if not known:
        return None
    row = con.execute("select load_id, upgraded_at, legacy_dir, items from meta.upgrades "
                      "order by load_id desc limit 1").fetchone()
    return None if row is None else (int(row[0]), row[1], row[2], json.loads(row[3]))


def _mixed_state(layout: DataLayout, legacy: Path) -> TrackitError:
    return TrackitError(
        f"the warehouse {layout.warehouse_catalog} already has transformed raw files and a "
        f"legacy core lake is still at {legacy}: move {legacy} out of the data directory if "
        f"the warehouse already holds its rows, or delete {layout.warehouse} and run "
        f"`trackit upgrade --data {layout.root}` again")


def _legacy_dir_name(layout: DataLayout, now: datetime) -> Path:
    base = Path(LEGACY_FOLDER) / now.strftime("%Y%m%dT%H%M%SZ")
    folder, n = base, 1
    while (layout.root / folder).exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


def _move_one(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, target)
    fsync_dir(target.parent)
    fsync_dir(source.parent)


def _move_aside(layout: DataLayout, legacy_dir: Path, items: list[str]) -> list[str]:
    """Rename every item still in place into ``legacy_dir``; the items moved."""
    moved = []
    for item in items:
        source, target = layout.root / item, layout.root / legacy_dir / item
        if not source.exists():
            continue
        if target.exists():
            raise _mixed_state(layout, source)
        try:
            _move_one(source, target)
        except OSError as exc:
            raise TrackitError(
                f"cannot move {source} to {target} ({exc.strerror or exc}): the warehouse "
                f"is upgraded; move it by hand or rerun `trackit upgrade --data "
                f"{layout.root}`") from None
        moved.append(item + ("/" if target.is_dir() else ""))
    return moved


def _relative(layout: DataLayout, paths: list[Path]) -> list[str]:
    return [p.relative_to(layout.root).as_posix() for p in paths]


def _transformed(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(raw files transformed, the last load that transformed any) of the warehouse."""
    files, last = con.execute("select count(*), coalesce(max(load_id), 0) "
                              "from meta.transformed_files").fetchone()
    return int(files), int(last)


def upgrade_locked(layout: DataLayout, con: duckdb.DuckDBPyConnection, *,
                   progress: bool = False) -> UpgradeReport:
    """Upgrade ``layout``'s data directory on ``con`` (the warehouse, ``ensure_core`` done),
    the caller holding the transform lock."""
    present = legacy_items(layout)
    previous = _existing_upgrade(con)
    transformed, last_load = _transformed(con)
    data_present = [p for p in data_items(layout) if p.exists()]
    if previous is not None:
        load_id, upgraded_at, legacy_dir, items = previous
        report = UpgradeReport(layout.root, "already", load_id=load_id,
                               legacy_dir=layout.root / legacy_dir, upgraded_at=upgraded_at)
        pending = [item for item in _relative(layout, present)
                   if not (layout.root / legacy_dir / item).exists()]
        # data items go where the upgrade recorded them, and only before any transform
        blocked = [p for p in data_present if last_load > load_id
                   or _relative(layout, [p])[0] not in set(items) & set(pending)]
        if blocked:
            raise _mixed_state(layout, blocked[0])
        if pending:
            report.action = "resumed"
            report.moved = _move_aside(layout, Path(legacy_dir), pending)
        if legacy_items(layout):  # legacy DuckDB files again, their names taken there
            for line in report.lines():
                log.info(line)
            return _move_derived(layout)
        return report
    if not present:
        return UpgradeReport(layout.root, "nothing")
    if not data_present:
        return _move_derived(layout)
    if transformed:
        raise _mixed_state(layout, data_present[0])
    return _upgrade(layout, con, present, progress=progress)


def _move_derived(layout: DataLayout) -> UpgradeReport:
    """Move the legacy DuckDB files (no core lake beside them: nothing to load) aside."""
    legacy_dir = _legacy_dir_name(layout, datetime.now(UTC))
    report = UpgradeReport(layout.root, "moved", legacy_dir=layout.root / legacy_dir)
    report.moved = _move_aside(layout, legacy_dir, _relative(layout, legacy_items(layout)))
    return report


def _upgrade(layout: DataLayout, con: duckdb.DuckDBPyConnection, present: list[Path], *,
             progress: bool) -> UpgradeReport:
    lake = _survey(layout)
    now = datetime.now(UTC)
    legacy_dir = _legacy_dir_name(layout, now)
    items = _relative(layout, present)
    report = UpgradeReport(layout.root, "upgraded", legacy_dir=layout.root / legacy_dir,
                           ledger_files=len(lake.ledger) + len(lake.left_out),
                           left_out=lake.left_out, ignored=lake.ignored, upgraded_at=now)
    spill = ledger_dir(layout) / "upgrade.tmp"
    con.execute("set temp_directory = ?", [str(spill)])
    con.execute("begin transaction")
    try:
        load_id = int(con.execute(
            "select coalesce(max(load_id), 0) + 1 from meta.loads").fetchone()[0])
        for name, table in CORE_TABLES.items():
            count = _load_table(con, table, lake.files[name], load_id)
            report.tables.append(count)
            if progress:
                print(count.progress(), file=sys.stderr)
        con.executemany("insert into meta.transformed_files values (?, ?, ?)",
                        [(path, frames, load_id) for path, frames in sorted(lake.ledger.items())])
        report.ledger_stored = con.execute(
            "select count(*) from meta.transformed_files where load_id = ?",
            [load_id]).fetchone()[0]
        wrong = [t.line().strip() for t in report.tables if not t.reconciles]
        if wrong or report.ledger_stored != len(lake.ledger):
            raise TrackitError(
                f"the upgrade of {layout.root} does not reconcile "
                f"({'; '.join(wrong) or 'ledger'}): nothing was committed and the legacy "
                "files are untouched; keep them and report this")
        con.execute("insert into meta.loads values (?, ?, ?, ?)",
                    [load_id, now, len(lake.ledger), sum(t.rows_stored for t in report.tables)])
        con.execute(UPGRADES_DDL)
        con.execute("insert into meta.upgrades values (?, ?, ?, ?)",
                    [load_id, now, legacy_dir.as_posix(), json.dumps(items)])
        _commit(con)
    except BaseException:
        rollback(con)
        raise
    finally:
        con.execute("reset temp_directory")
    report.load_id = load_id
    report.moved = _move_aside(layout, legacy_dir, items)
    return report


def upgrade(data_dir: Path | DataLayout, *, progress: bool = False) -> UpgradeReport:
    """Upgrade ``data_dir`` in place (see the module); a no-op report when there is
    nothing to upgrade or it was done already."""
    layout = DataLayout(data_dir)
    if not layout.root.is_dir():
        raise TrackitError(f"data directory {layout.root} does not exist")
    if not legacy_items(layout) and not layout.warehouse_catalog.exists():
        return UpgradeReport(layout.root, "nothing")
    with transform_lock(layout), writing_warehouse(layout) as con:
        ensure_core(con)
        return upgrade_locked(layout, con, progress=progress)
