"""Helpers of the transforms tests: raw lake files built with pyarrow + RAW_SCHEMA."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake.ducklake import open_warehouse
from lake.layout import DataLayout
from lake.raw_schema import RAW_SCHEMA

EXAMPLES_FILE = Path(__file__).with_name("manual_examples.txt")
T0 = datetime(2022, 4, 2, 10, 0, tzinfo=UTC)

RawWriter = Callable[..., Path]


def manual_examples() -> dict[str, tuple[str, str]]:
    """name → (direction, frame text) of every example printed in the manual."""
    text = EXAMPLES_FILE.read_text()
    examples = {}
    for block in re.split(r"^=== ", text, flags=re.M)[1:]:
        head, body = block.split("\n", 1)
        name, direction = head.split()
        examples[name] = (direction, body.rstrip("\n"))
    return examples


def write_raw_file(data: Path, frames: Sequence[tuple[str, str] | str], *,
                   name: str = "part-0001", start: datetime = T0, seq0: int = 0) -> Path:
    """A raw lake file of ``frames`` (``(direction, text)`` or just the text of an in frame)."""
    rows = [(f if isinstance(f, tuple) else ("in", f)) for f in frames]
    folder = data / "raw" / f"date={start:%Y-%m-%d}" / f"hour={start:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    n = len(rows)
    table = pa.table(
        {
            "received_at": [start + timedelta(milliseconds=10 * i) for i in range(n)],
            "direction": [d for d, _ in rows],
            "connection_id": ["conn-1"] * n,
            "seq": list(range(seq0, seq0 + n)),
            "frame": [t for _, t in rows],
        },
        schema=RAW_SCHEMA,
    )
    path = folder / f"{name}.parquet"
    pq.write_table(table, path)
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def write_raw(data_dir: Path) -> RawWriter:
    def write(frames: Sequence[tuple[str, str] | str], **kwargs: object) -> Path:
        return write_raw_file(data_dir, frames, **kwargs)  # type: ignore[arg-type]
    return write


def read_table(data: Path, table: str) -> pl.DataFrame:
    """Every row of a core table (or ``quarantine``) of the warehouse under ``data``."""
    if not DataLayout(data).warehouse_catalog.exists():
        return pl.DataFrame()
    with open_warehouse(data, read_only=True) as con:
        rows = con.sql(f"select * exclude (_load_id) from core.{table} order by seq").pl()
    return rows if rows.height else pl.DataFrame()


def query(data: Path, sql: str) -> list[tuple]:
    """The rows of ``sql`` over the warehouse under ``data`` (read-only)."""
    with open_warehouse(data, read_only=True) as con:
        return con.sql(sql).fetchall()


def ledger(data: Path) -> dict[str, tuple[int, int]]:
    """The transform's ledger: raw file (relative to ``data``) → (frames, load id)."""
    return {path: (frames, load) for path, frames, load in query(
        data, "select path, frames, load_id from meta.transformed_files")}


def warehouse_contents(data: Path) -> dict[str, list[tuple]]:
    """Every core table's rows (without ``_load_id``), sorted, by table."""
    from schemas.core_tables import CORE_TABLES

    with open_warehouse(data, read_only=True) as con:
        return {name: sorted(con.sql(f"select * exclude (_load_id) from core.{name}")
                             .fetchall(), key=repr)
                for name in CORE_TABLES}
