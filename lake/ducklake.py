"""Open the warehouse: a DuckLake (catalog database + Parquet data files) attached to DuckDB.

The warehouse is one DuckLake attached as ``warehouse`` and made the default database, so
``core.records`` and ``marts.trips`` resolve as they are written. By default its catalog
is the SQLite file ``DATA/warehouse/catalog.sqlite`` and its data files live under
``DATA/warehouse/data/``. A writer (``trackit transform``, ``trackit build``) commits whole
snapshots, one at a time (``writing_warehouse`` holds the writer lock); a reader
(``read_only=True``: ``trackit sql``, reports, notebooks) sees the
latest committed snapshot and never blocks a writer.

DuckDB's extensions come from the PyPI wheels of the lock file (``duckdb-extension-*``)
and are loaded from their installed files; DuckDB never downloads anything at run time.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.locks import hold_lock

DATABASE = "warehouse"
"""The name the warehouse is attached under (``warehouse.core.records``)."""

EXTENSION_PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
    "spatial": "duckdb_extension_spatial",
}
"""DuckDB extension → the Python package (PyPI ``duckdb-extension-<name>``) shipping it."""


class MissingExtensionError(TrackitError):
    """A DuckDB extension's wheel is not installed."""


def extension_file(name: str) -> Path:
    """The installed ``<name>.duckdb_extension`` file for this DuckDB version."""
    package = EXTENSION_PACKAGES[name]
    pypi = package.replace("_", "-")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtensionError(
            f"the DuckDB extension {name} is not installed: install the PyPI package "
            f"{pypi}=={duckdb.__version__} (`./run` installs it from uv.lock)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    wanted = folder / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not wanted.is_file():
        found = sorted(p.parent.name for p in folder.glob("extensions/*/*.duckdb_extension"))
        raise MissingExtensionError(
            f"the package {pypi} has no {name} extension for DuckDB {duckdb.__version__} "
            f"(it has {', '.join(found) or 'none'}): install {pypi}=={duckdb.__version__}")
    return wanted


def load_extensions(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> None:
    """Load extensions from their installed wheels; never download or autoload one."""
    con.execute("set autoinstall_known_extensions = false")
    con.execute("set autoload_known_extensions = false")
    loaded = {row[0] for row in con.execute(
        "select extension_name from duckdb_extensions() where loaded").fetchall()}
    for name in names:
        if name not in loaded:
            con.execute(f"load '{extension_file(name)}'")


@dataclass(frozen=True)
class WarehouseLocation:
    """Where a warehouse's catalog and data files are."""

    catalog: str
    """The DuckLake catalog, as ATTACH reads it after ``ducklake:`` (``sqlite:/path``)."""
    data_path: str
    """The folder (or object-store prefix) of the data files, ending in ``/``."""

    @classmethod
    def of(cls, data_dir: Path) -> WarehouseLocation:
        """The embedded default: a SQLite catalog and data files under ``DATA/warehouse/``."""
        layout = DataLayout(data_dir)
        return cls(catalog=f"sqlite:{layout.warehouse_catalog.absolute()}",
                   data_path=f"{layout.warehouse_data.absolute()}/")

    @property
    def extensions(self) -> tuple[str, ...]:
        backend = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner"}
        kind = self.catalog.partition(":")[0]
        return ("ducklake", backend.get(kind, "sqlite_scanner"))

    def exists(self) -> bool:
        kind, _, path = self.catalog.partition(":")
        return kind != "sqlite" or Path(path).is_file()


SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CATALOG_OPTIONS = {
    False: f", META_JOURNAL_MODE 'WAL', META_BUSY_TIMEOUT {SQLITE_BUSY_TIMEOUT_MS}",
    True: f", META_BUSY_TIMEOUT {SQLITE_BUSY_TIMEOUT_MS}",
}
"""A SQLite catalog in WAL mode: readers and the writer's commit do not lock each other out
(in the default rollback journal a commit fails with "database is locked" while a reader
reads the catalog); the busy timeout covers the moments SQLite still locks (checkpoints).
Only a writer sets the journal mode; it stays set in the file."""


def open_warehouse(data_dir: Path, *, read_only: bool = False,
                   location: WarehouseLocation | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the warehouse attached and in use.

    A writer creates the catalog and data folder when they do not exist yet; a reader
    refuses a warehouse that was never built (``TrackitError`` naming it).
    """
    location = location or WarehouseLocation.of(data_dir)
    if read_only and not location.exists():
        raise TrackitError(f"no warehouse at {location.catalog.partition(':')[2]} yet: "
                           f"run `trackit transform` and `trackit build` on {data_dir} first")
    if not read_only and location.catalog.startswith("sqlite:"):
        Path(location.catalog.partition(":")[2]).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        load_extensions(con, location.extensions)
        options = "READ_ONLY" if read_only else f"DATA_PATH '{location.data_path}'"
        if location.catalog.startswith("sqlite:"):
            options += SQLITE_CATALOG_OPTIONS[read_only]
        con.execute(f"attach 'ducklake:{location.catalog}' as {DATABASE} ({options})")
        con.execute(f"use {DATABASE}")
    except BaseException:
        con.close()
        raise
    return con


WRITER_WAIT_S = 900.0


@contextmanager
def writing_warehouse(data_dir: Path, *, wait_s: float = WRITER_WAIT_S,
                      location: WarehouseLocation | None = None
                      ) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened for writing, under the data dir's writer lock.

    The transform and the build both write (``meta.loads`` ids, ``core.commands``); the
    lock makes them take turns, waiting up to ``wait_s`` for the other to finish.
    """
    lock = DataLayout(data_dir).state / "warehouse" / "writer.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    busy = (f"another transform or build has been writing the warehouse of {data_dir} for "
            f"{wait_s:.0f}s (lock {lock}); try again later")
    with hold_lock(lock, wait_s=wait_s, busy_message=busy):
        con = open_warehouse(data_dir, location=location)
        try:
            yield con
        finally:
            con.close()
