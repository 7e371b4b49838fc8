"""Paths of the data directory (README "Where the data lives").

Under `DATA` (``--data``, env ``TRACKIT_DATA``, default ``./data``)::

    raw/date=YYYY-MM-DD/hour=HH/*.parquet   immutable raw frames (ingest)
    warehouse/catalog.sqlite                the warehouse: a DuckLake's catalog ...
    warehouse/data/                         ... and its Parquet data files (core and marts)
    state/                                  journals, ledgers, outbox and other state

With ``--data s3://bucket/prefix`` the raw lake (and the warehouse's data files) live under
that prefix on object storage (``lake.object_store``), while everything that must stay on a
local disk (ingest journals and state, locks, the default SQLite catalog) lives under the
local directory named by ``TRACKIT_LOCAL`` (default ``./data``): :func:`data_layout`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lake.object_store import ObjectStoreUrl, is_object_store

DATA_ENV = "TRACKIT_DATA"
LOCAL_ENV = "TRACKIT_LOCAL"
DEFAULT_DATA = "data"
_DATE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_HOUR = re.compile(r"^hour=(\d{2})$")


def default_data_dir() -> Path:
    """The local data directory: ``TRACKIT_DATA``, else ``./data`` (with ``TRACKIT_DATA``
    on object storage, ``TRACKIT_LOCAL``, else ``./data``)."""
    return data_layout(None).root


def data_layout(value: str | os.PathLike[str] | DataLayout | None) -> DataLayout:
    """The layout a ``--data`` value (``None``: ``TRACKIT_DATA``, else ``./data``) names.

    A local path is the data directory itself; ``s3://bucket/prefix`` puts the raw lake and
    the warehouse's data files there, with the local part under ``TRACKIT_LOCAL`` (default
    ``./data``). A :class:`DataLayout` is returned unchanged.
    """
    if isinstance(value, DataLayout):
        return value
    if value is None:
        value = os.environ.get(DATA_ENV) or DEFAULT_DATA
    if is_object_store(value):
        local = Path(os.environ.get(LOCAL_ENV) or DEFAULT_DATA)
        return DataLayout(local, remote=ObjectStoreUrl.parse(str(value)))
    return DataLayout(Path(value))


@dataclass(frozen=True)
class DataLayout:
    """Every well-known path under one data directory.

    ``root`` is always a local directory; ``remote`` is set when the raw lake and the
    warehouse's data files live on object storage. A layout is path-like (its local
    ``root``), so code that only needs local paths takes it unchanged.
    """

    root: Path
    remote: ObjectStoreUrl | None = None

    def __post_init__(self) -> None:
        # DataLayout(other_layout) keeps its remote; DataLayout("dir") takes a string.
        if isinstance(self.root, DataLayout):
            object.__setattr__(self, "remote", self.remote or self.root.remote)
            object.__setattr__(self, "root", self.root.root)
        elif not isinstance(self.root, Path):
            object.__setattr__(self, "root", Path(self.root))

    def __fspath__(self) -> str:
        return os.fspath(self.root)

    def __str__(self) -> str:
        return self.location

    def resolve(self) -> DataLayout:
        """The same layout with an absolute local ``root``."""
        return DataLayout(self.root.resolve(), self.remote)

    @property
    def location(self) -> str:
        """Where the lake is, for messages: ``s3://bucket/prefix`` or the local directory."""
        return str(self.remote) if self.remote is not None else str(self.root)

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def warehouse_catalog(self) -> Path:
        return self.warehouse / "catalog.sqlite"

    @property
    def warehouse_data(self) -> Path:
        return self.warehouse / "data"

    @property
    def legacy_core(self) -> Path:
        """The core Parquet lake of releases before the DuckLake warehouse (migrated)."""
        return self.root / "core"

    @property
    def legacy_quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def legacy_warehouse_file(self) -> Path:
        """The published DuckDB file of releases before the DuckLake warehouse."""
        return self.root / "warehouse.duckdb"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def raw_partition(self, received_at: datetime) -> Path:
        """The hive partition of the raw lake for a UTC receive time."""
        return self.root / raw_partition_key(received_at)

    def legacy_core_table(self, table: str) -> Path:
        """The folder of one table of the legacy core lake (``core/records``)."""
        return self.legacy_core / table.removeprefix("core.")


def raw_partition_key(received_at: datetime) -> str:
    """``raw/date=YYYY-MM-DD/hour=HH``: the partition of a UTC receive time, relative to
    the lake (a folder under ``root``, or a key prefix under ``remote``)."""
    return f"raw/date={received_at:%Y-%m-%d}/hour={received_at:%H}"


def partition_date(path: Path) -> str:
    """The ``YYYY-MM-DD`` of the ``date=`` partition holding ``path`` (ValueError if none)."""
    for part in reversed(path.parent.parts):
        if m := _DATE.match(part):
            return m.group(1)
    raise ValueError(f"raw file outside a date= partition: {path}")


def partition_start(path: Path) -> datetime:
    """The UTC start of the partition holding ``path``: its date, at its ``hour=`` if any."""
    hour = next((int(m.group(1)) for part in reversed(path.parent.parts)
                 if (m := _HOUR.match(part))), 0)
    return datetime.fromisoformat(partition_date(path)).replace(hour=hour, tzinfo=UTC)
