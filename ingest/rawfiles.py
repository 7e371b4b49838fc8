"""Raw-lake files of the ingest: deterministic names and publishing.

A rolled segment becomes one Parquet file per hive partition
(``DATA/raw/date=YYYY-MM-DD/hour=HH/``, by UTC receive time) named
``<instance>-<first seq:016d>-<last seq:016d>.parquet``. The name depends only on the
instance and the frames, so rolling the same segment again after a crash replaces the
same files instead of duplicating them, and several ingest instances never collide.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ingest.segment import SegmentColumns
from lake.layout import DataLayout
from lake.storage import write_parquet

_MICROS_PER_HOUR = 3_600_000_000


def raw_file_name(instance: str, first_seq: int, last_seq: int) -> str:
    """The file name of an instance's frames ``first_seq..last_seq`` in one partition."""
    return f"{instance}-{first_seq:016d}-{last_seq:016d}.parquet"


def split_by_hour(table: pa.Table) -> list[tuple[datetime, pa.Table]]:
    """``table`` cut into one table per UTC hour of ``received_at``, oldest first."""
    micros = table.column("received_at").cast(pa.int64())
    hours = pc.divide(micros, _MICROS_PER_HOUR)
    distinct = sorted(pc.unique(hours).to_pylist())
    if len(distinct) == 1:
        parts = [(distinct[0], table)]
    else:
        parts = [(hour, table.filter(pc.equal(hours, hour))) for hour in distinct]
    return [(datetime.fromtimestamp(hour * 3600, UTC), part) for hour, part in parts]


def publish_segment(
    layout: DataLayout, instance: str, columns: SegmentColumns, *, durable: bool = True
) -> list[Path]:
    """Write a segment's frames into the raw lake; returns the published files."""
    if not len(columns):
        return []
    published = []
    for hour, part in split_by_hour(columns.to_table()):
        seqs = part.column("seq")
        name = raw_file_name(instance, pc.min(seqs).as_py(), pc.max(seqs).as_py())
        published.append(
            write_parquet(part, layout.raw_partition(hour) / name, durable=durable)
        )
    return published
