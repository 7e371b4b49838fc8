"""Paths of the data directory (README "Where the data lives").

Under `DATA` (``--data``, env ``TRACKIT_DATA``, default ``./data``)::

    raw/date=YYYY-MM-DD/hour=HH/*.parquet   immutable raw frames (ingest)
    warehouse/catalog.sqlite                the warehouse: a DuckLake's catalog ...
    warehouse/data/                         ... and its Parquet data files (core and marts)
    state/                                  journals, ledgers, outbox and other state
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lake.object_store import ObjectStoreUrl

DATA_ENV = "TRACKIT_DATA"
DEFAULT_DATA = "data"
_DATE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_HOUR = re.compile(r"^hour=(\d{2})$")


def default_data_dir() -> Path:
    """The data directory named by ``TRACKIT_DATA``, else ``./data``."""
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA)


@dataclass(frozen=True)
class DataLayout:
    """Every well-known path under one data directory."""

    root: Path
    remote: ObjectStoreUrl | None = None

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
        return self.raw / f"date={received_at:%Y-%m-%d}" / f"hour={received_at:%H}"

    def legacy_core_table(self, table: str) -> Path:
        """The folder of one table of the legacy core lake (``core/records``)."""
        return self.legacy_core / table.removeprefix("core.")


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
