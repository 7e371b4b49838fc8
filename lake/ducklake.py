"""Open the warehouse: a DuckLake (catalog database + Parquet data files) attached to DuckDB.

The warehouse is one DuckLake attached as ``warehouse`` and made the default database, so
``core.records`` and ``marts.trips`` resolve as they are written. By default its catalog
is the SQLite file ``DATA/warehouse/catalog.sqlite`` and its data files live under
``DATA/warehouse/data/``. A warehouse shared by several machines keeps its catalog in
PostgreSQL (``--catalog`` / ``TRACKIT_CATALOG``, ``lake.catalog``) and its data files on
object storage (``s3://bucket/prefix/warehouse/data/``, when the layout has a
``remote``).

A writer (``trackit transform``, ``trackit build``) commits whole snapshots, one at a time
(``writing_warehouse`` holds the writer lock: a lock file, or an advisory lock on a
PostgreSQL catalog); a reader (``read_only=True``: ``trackit sql``, reports, notebooks)
sees the latest committed snapshot and never blocks a writer.

DuckDB's extensions come from the PyPI wheels of the lock file (``duckdb-extension-*``)
and are loaded from their installed files; DuckDB never downloads anything at run time.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lake.catalog import (
    WRITER_LOCK_KEY,
    PostgresCatalog,
    catalog_from_environment,
    hold_writer_lock,
    unreachable,
)
from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.locks import hold_lock
from lake.object_store import S3Settings, is_object_store

DATABASE = "warehouse"
"""The name the warehouse is attached under (``warehouse.core.records``)."""

EXTENSION_PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
    "aws": "duckdb_extension_aws",
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


WarehouseData = Path | DataLayout
"""A data dir, or its layout (which may put the warehouse's data files on object storage)."""


def layout_of(data: WarehouseData) -> DataLayout:
    return data if isinstance(data, DataLayout) else DataLayout(Path(data))


@dataclass(frozen=True)
class WarehouseLocation:
    """Where a warehouse's catalog and data files are."""

    catalog: str
    """The DuckLake catalog, as ATTACH reads it after ``ducklake:`` (``sqlite:/path``,
    ``postgres:<libpq connection string without the password>``)."""
    data_path: str
    """The folder (or object-store prefix) of the data files, ending in ``/``."""
    postgres: PostgresCatalog | None = None
    """The PostgreSQL catalog, when the catalog is not the SQLite file."""

    @classmethod
    def of(cls, data: WarehouseData, catalog: PostgresCatalog | None = None
           ) -> WarehouseLocation:
        """The catalog ``catalog`` names, else ``TRACKIT_CATALOG``, else the SQLite file
        ``DATA/warehouse/catalog.sqlite``; the data files under ``DATA/warehouse/data/``,
        or under ``warehouse/data/`` of the layout's object-store prefix."""
        layout = layout_of(data)
        data_path = (f"{layout.remote.url('warehouse/data')}/" if layout.remote is not None
                     else f"{layout.warehouse_data.absolute()}/")
        postgres = catalog or catalog_from_environment()
        if postgres is not None:
            return cls(catalog=f"postgres:{postgres.conninfo()}", data_path=data_path,
                       postgres=postgres)
        return cls(catalog=f"sqlite:{layout.warehouse_catalog.absolute()}",
                   data_path=data_path)

    @property
    def remote_data(self) -> bool:
        return is_object_store(self.data_path)

    @property
    def extensions(self) -> tuple[str, ...]:
        if self.postgres is not None:  # a shared catalog's files may be on object storage
            return ("ducklake", "postgres_scanner", "httpfs")
        return ("ducklake", "sqlite_scanner", *(("httpfs",) if self.remote_data else ()))

    def exists(self) -> bool:
        kind, _, path = self.catalog.partition(":")
        return kind != "sqlite" or Path(path).is_file()

    def __str__(self) -> str:
        """What errors name: the SQLite file, or ``postgresql://user@host:port/db``."""
        return str(self.postgres) if self.postgres else self.catalog.partition(":")[2]


SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite catalog access waits for another process's lock. The catalog is in
WAL mode (set by every writer), so readers never block the writer's commit and the writer
never blocks readers; the wait covers the one writer at a time and WAL checkpoints."""


def copy_catalog(catalog: Path, folder: Path) -> Path:
    """A private copy of a SQLite catalog (and its write-ahead log) in ``folder``.

    SQLite cannot open a WAL-mode database in a folder it may not write (it needs the
    ``-shm`` file beside it), so a reader of a read-only data dir reads a copy: the
    catalog holds only metadata, and the data files are read where they are.
    """
    copy = folder / catalog.name
    for suffix in ("", "-wal"):
        source = catalog.with_name(catalog.name + suffix)
        if source.exists():
            shutil.copyfile(source, copy.with_name(copy.name + suffix))
    return copy


def open_warehouse(data: WarehouseData, *, read_only: bool = False,
                   location: WarehouseLocation | None = None,
                   snapshot_version: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the warehouse attached and in use.

    A writer creates the catalog and data folder when they do not exist yet; a reader
    refuses a warehouse that was never built (``TrackitError`` naming it), and reads a
    private copy of a SQLite catalog when its folder is read-only (``copy_catalog``).
    A reader of a PostgreSQL catalog reads the data files where the catalog says they
    are, unless the layout names an object-store prefix: it needs no data dir of its own.
    ``snapshot_version``: a reader sees the warehouse as that snapshot left it.
    """
    if snapshot_version is not None and not read_only:
        raise ValueError("only a read-only warehouse can be opened at an older snapshot")
    layout = layout_of(data)
    location = location or WarehouseLocation.of(layout)
    if read_only and not location.exists():
        raise TrackitError(f"no warehouse at {location} yet: run `trackit transform` and "
                           f"`trackit build` on {layout.root} first")
    if not read_only and location.catalog.startswith("sqlite:"):
        Path(location.catalog.partition(":")[2]).parent.mkdir(parents=True, exist_ok=True)
    catalog = location.catalog
    private_copy = None
    if read_only and catalog.startswith("sqlite:"):
        path = Path(catalog.partition(":")[2])
        if not os.access(path.parent, os.W_OK):
            private_copy = Path(tempfile.mkdtemp(prefix="trackit-catalog-"))
            catalog = f"sqlite:{copy_catalog(path, private_copy)}"
    con = duckdb.connect()
    if private_copy is not None:
        weakref.finalize(con, shutil.rmtree, private_copy, ignore_errors=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        # a DuckLake data file never changes once written: its Parquet footer is parsed
        # once per connection, not in each of the dozens of statements of a build
        con.execute("set parquet_metadata_cache = true")
        load_extensions(con, location.extensions)
        if location.remote_data:
            reach_object_store(con)
        # The catalog stores where the data files were when it was created; a data dir
        # moved or copied elsewhere must read its own files, so the path is given, but
        # to a reader of a shared catalog the catalog itself says where they are.
        options = []
        if not (read_only and location.postgres is not None and layout.remote is None):
            options.append(f"DATA_PATH '{location.data_path}', OVERRIDE_DATA_PATH true")
        if read_only:
            options.append("READ_ONLY")
        if snapshot_version is not None:
            options.append(f"SNAPSHOT_VERSION {int(snapshot_version)}")
        if location.catalog.startswith("sqlite:"):
            options.append(f"META_BUSY_TIMEOUT {SQLITE_BUSY_TIMEOUT_MS}")
            if not read_only:
                options.append("META_JOURNAL_MODE 'WAL'")
        if location.postgres is not None:
            secret = location.postgres.duckdb_secret(CATALOG_SECRET)
            if secret is not None:
                con.execute(secret)
                options.append(f"META_SECRET '{CATALOG_SECRET}'")
        attach_catalog(con, f"ducklake:{catalog}", options, location)
        con.execute(f"use {DATABASE}")
        if not location.remote_data and is_object_store(stored_data_path(con)):
            load_extensions(con, ["httpfs"])
            reach_object_store(con)
    except BaseException:
        con.close()
        raise
    return con


CATALOG_SECRET = "trackit_catalog"


def attach_catalog(con: duckdb.DuckDBPyConnection, catalog: str, options: list[str],
                   location: WarehouseLocation) -> None:
    """ATTACH the DuckLake; a PostgreSQL catalog that cannot be reached or logged into
    is a ``CatalogError`` naming it (never its password)."""
    try:
        con.execute(f"attach '{catalog}' as {DATABASE} ({', '.join(options)})")
    except duckdb.Error as exc:
        if location.postgres is None:
            raise
        text = str(exc)
        if "Unable to connect to Postgres" in text:
            raise unreachable(location.postgres, text.rpartition('":')[2] or text) from None
        if "read-only" in text.lower() or "read only" in text.lower():
            raise TrackitError(
                f"no warehouse in the catalog {location.postgres} yet: run `trackit "
                "transform` and `trackit build` with this --catalog first") from None
        raise TrackitError(f"cannot open the warehouse catalog {location.postgres}: "
                           f"{location.postgres.scrub(text.strip().splitlines()[0])}"
                           ) from None


def stored_data_path(con: duckdb.DuckDBPyConnection) -> str:
    """Where the attached warehouse's catalog says its data files are."""
    row = con.execute(f"select value from __ducklake_metadata_{DATABASE}.ducklake_metadata "
                      "where key = 'data_path'").fetchone()
    return str(row[0]) if row else ""


def reach_object_store(con: duckdb.DuckDBPyConnection) -> None:
    """Give httpfs the endpoint, region and credentials of the AWS environment.

    boto3 resolves the credentials (keys, profiles, SSO, an instance or task role) and
    DuckDB gets them as explicit keys; when boto3 finds none, DuckDB's own credential
    chain (the ``aws`` extension) gets its turn, and finding none either is an
    ``ObjectStoreError`` saying what to set.
    """
    from lake.object_store import ObjectStoreError

    settings = S3Settings.from_environment()
    if not settings.has_keys:
        load_extensions(con, ["aws"])
    try:
        con.execute(settings.duckdb_secret())
    except duckdb.Error:
        if settings.has_keys:
            raise
        where = settings.endpoint_url or "AWS"
        raise ObjectStoreError(
            f"no AWS credentials for the object storage at {where}: set AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY, AWS_PROFILE (~/.aws/credentials), or give the "
            "machine a role (DuckDB's credential chain found none either)") from None


WRITER_WAIT_S = 900.0


@contextmanager
def writer_lock(data: WarehouseData, location: WarehouseLocation, *, wait_s: float
                ) -> Iterator[None]:
    """The warehouse's one writer at a time: an advisory lock on a PostgreSQL catalog
    (writers on several machines), else the data dir's lock file."""
    layout = layout_of(data)
    if location.postgres is not None:
        busy = (f"another transform or build has been writing the warehouse of catalog "
                f"{location.postgres} for {wait_s:.0f}s (advisory lock {WRITER_LOCK_KEY}); "
                "try again later")
        with hold_writer_lock(location.postgres, wait_s=wait_s, busy_message=busy):
            yield
        return
    lock = layout.state / "warehouse" / "writer.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    busy = (f"another transform or build has been writing the warehouse of {layout.root} "
            f"for {wait_s:.0f}s (lock {lock}); try again later")
    with hold_lock(lock, wait_s=wait_s, busy_message=busy):
        yield


@contextmanager
def writing_warehouse(data: WarehouseData, *, wait_s: float = WRITER_WAIT_S,
                      location: WarehouseLocation | None = None
                      ) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened for writing, under the writer lock (``writer_lock``).

    The transform and the build both write (``meta.loads`` ids, ``core.commands``); the
    lock makes them take turns, waiting up to ``wait_s`` for the other to finish. The
    first writer of a new catalog (SQLite file or PostgreSQL database) creates it.
    """
    location = location or WarehouseLocation.of(data)
    with writer_lock(data, location, wait_s=wait_s):
        if location.remote_data:
            check_bucket(location.data_path)
        con = open_warehouse(data, location=location)
        try:
            yield con
        finally:
            con.close()


def check_bucket(url: str) -> None:
    """Refuse (``ObjectStoreError`` naming the bucket) a bucket that is missing or that
    the AWS settings cannot reach."""
    from lake.object_store import ObjectStoreError, ObjectStoreUrl

    target = ObjectStoreUrl.parse(url.rstrip("/"))
    settings = S3Settings.from_environment()
    where = settings.endpoint_url or "AWS"
    try:
        settings.client().head_bucket(Bucket=target.bucket)
    except Exception as exc:  # botocore's errors: missing bucket, refused, no endpoint
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        reason = {"404": "does not exist", "NoSuchBucket": "does not exist",
                  "403": "refuses these credentials (access denied)"}.get(
                      str(code), type(exc).__name__)
        raise ObjectStoreError(
            f"the bucket {target.bucket} at {where} {reason}: create it or check "
            "AWS_ENDPOINT_URL_S3 and the AWS credentials (the warehouse's data files "
            f"go to {url})") from None


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if any: a failed commit has already ended it, and
    a second error would hide the first."""
    with suppress(duckdb.TransactionException):
        con.execute("rollback")
