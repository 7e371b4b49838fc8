"""Data directories as the release with a core Parquet lake left them, made honestly.

Each raw file is transformed on its own by the real transform (``transform_lake``) in a
scratch data directory, which deduplicates within that raw file only, as the legacy
transform did; its core tables are then written out as that release wrote them: one
Parquet file per raw file per table, ``core/<table>/date=D/hour=HH__<stem>.parquet`` and
``quarantine/date=D/...``, plus ``state/transform/ledger.json``. The legacy DuckDB files
(``warehouse.duckdb``, ``state/warehouse/build.duckdb`` and its marker) are stand-ins: the
DuckDB that wrote them is newer than the one installed, and the upgrade never opens them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from lake.ducklake import open_warehouse
from lake.layout import partition_date
from lake.storage import list_parquet
from schemas.core_tables import CORE_TABLES
from transforms.pipeline import transform_lake
from transforms.raw_names import below_date

LEGACY_DERIVED = {
    "warehouse.duckdb": b"DUCK\x02 a warehouse of DuckDB 2.0 (stand-in)",
    "state/warehouse/build.duckdb": b"DUCK\x02 the builder's database (stand-in)",
    "state/warehouse/published.json": b'{"build_id": "1-1", "size": 42}',
}
"""The legacy DuckDB files and marker, relative to the data dir, with their content."""

LEGACY_DATA = ("core", "quarantine", "state/transform/ledger.json")


def legacy_name(raw_file: Path) -> str:
    """The legacy output name of a raw file (``hour=05__x.parquet``)."""
    *folders, name = below_date(raw_file)
    return "__".join([*folders, Path(name).stem]) + ".parquet"


def core_tables(data: Path) -> dict[str, pl.DataFrame]:
    """Every core table of the warehouse under ``data`` (without ``_load_id``), sorted."""
    with open_warehouse(data, read_only=True) as con:
        return {name: con.sql(f"select * exclude (_load_id) from core.{name} order by all").pl()
                for name in CORE_TABLES}


def legacy_folder(data: Path, table: str) -> Path:
    return data / "quarantine" if table == "quarantine" else data / "core" / table


def write_legacy_lake(data: Path, scratch: Path) -> dict[str, int]:
    """Turn ``data`` (a raw lake only) into a legacy data directory; its ledger.

    ``scratch`` is a folder for the per-raw-file transforms.
    """
    ledger: dict[str, int] = {}
    for number, raw in enumerate(list_parquet(data / "raw")):
        relative = raw.relative_to(data)
        one = scratch / f"one-{number}"
        (one / relative).parent.mkdir(parents=True)
        shutil.copy(raw, one / relative)
        transform_lake(one)
        with open_warehouse(one, read_only=True) as con:
            ledger.update(con.execute("select path, frames from meta.transformed_files")
                          .fetchall())
            for name, table in CORE_TABLES.items():
                rows = con.sql(f"select * exclude (_load_id) from core.{name}").arrow(
                ).read_all()
                if rows.num_rows:
                    target = (legacy_folder(data, name) / f"date={partition_date(raw)}"
                              / legacy_name(raw))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    pq.write_table(rows.cast(table.arrow_schema), target, compression="lz4")
        shutil.rmtree(one)
    ledger_file = data / "state" / "transform" / "ledger.json"
    ledger_file.parent.mkdir(parents=True, exist_ok=True)
    ledger_file.write_text(json.dumps({"version": 1, "files": dict(sorted(ledger.items()))},
                                      indent=0))
    for relative, content in LEGACY_DERIVED.items():
        (data / relative).parent.mkdir(parents=True, exist_ok=True)
        (data / relative).write_bytes(content)
    shutil.rmtree(data / "warehouse", ignore_errors=True)
    return ledger
