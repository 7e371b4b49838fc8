"""Raw-lake files of the ingest: deterministic names, publishing, and what is published.

A rolled segment becomes one Parquet file per hive partition
(``DATA/raw/date=YYYY-MM-DD/hour=HH/``, by UTC receive time) and run of consecutive
``seq``, named ``<instance>-<first seq:016d>-<last seq:016d>.parquet``. The name depends
only on the instance and the frames, so rolling the same segment again after a crash
replaces the same files instead of duplicating them, and several ingest instances never
collide. Since a file holds exactly the ``seq`` its name says, the names alone tell which
``seq`` of an instance the raw lake holds (:func:`published_seqs`).
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ingest.segment import SegmentColumns
from lake.layout import DataLayout
from lake.storage import TMP_PREFIX, write_parquet

_MICROS_PER_HOUR = 3_600_000_000
_RAW_NAME = re.compile(r"(?P<instance>.+)-(?P<first>\d{16})-(?P<last>\d{16})\.parquet")


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


def split_by_seq_run(table: pa.Table) -> list[tuple[int, int, pa.Table]]:
    """``table`` (sorted by ``seq``) cut into runs of consecutive ``seq``: (first, last, rows)."""
    seqs = table.column("seq")
    first, last = pc.min(seqs).as_py(), pc.max(seqs).as_py()
    if last - first + 1 == table.num_rows:
        return [(first, last, table)]
    values = seqs.to_pylist()
    cuts = [0, *(i for i in range(1, len(values)) if values[i] != values[i - 1] + 1), len(values)]
    return [
        (values[start], values[stop - 1], table.slice(start, stop - start))
        for start, stop in itertools.pairwise(cuts)
    ]


class SeqCoverage:
    """The ``seq`` an instance's raw lake holds, as sorted disjoint ranges."""

    def __init__(self, ranges: list[tuple[int, int]] | None = None) -> None:
        self._firsts: list[int] = []
        self._lasts: list[int] = []
        for first, last in sorted(ranges or []):
            self.add(first, last)

    @property
    def max_seq(self) -> int:
        """The highest ``seq`` held, ``0`` if none."""
        return self._lasts[-1] if self._lasts else 0

    def add(self, first: int, last: int) -> None:
        """Record that ``first..last`` is held."""
        index = bisect.bisect_left(self._lasts, first - 1)
        while index < len(self._firsts) and self._firsts[index] <= last + 1:
            first = min(first, self._firsts.pop(index))
            last = max(last, self._lasts.pop(index))
        self._firsts.insert(index, first)
        self._lasts.insert(index, last)

    def missing(self, first: int, last: int) -> list[tuple[int, int]]:
        """The sub-ranges of ``first..last`` not held, in order."""
        gaps = []
        index = bisect.bisect_left(self._lasts, first)
        while first <= last:
            if index == len(self._firsts) or self._firsts[index] > last:
                gaps.append((first, last))
                break
            if self._firsts[index] > first:
                gaps.append((first, self._firsts[index] - 1))
            first = self._lasts[index] + 1
            index += 1
        return gaps


def published_seqs(layout: DataLayout, instance: str) -> SeqCoverage:
    """Which ``seq`` of ``instance`` the raw lake holds, from its file names alone."""
    ranges = []
    for date in _subfolders(layout.raw, "date="):
        for hour in _subfolders(date, "hour="):
            with os.scandir(hour) as entries:
                for entry in entries:
                    match = _RAW_NAME.fullmatch(entry.name)
                    if (
                        match and match["instance"] == instance
                        and not entry.name.startswith(TMP_PREFIX)
                    ):
                        ranges.append((int(match["first"]), int(match["last"])))
    return SeqCoverage(ranges)


def _subfolders(folder: Path, prefix: str) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return [Path(e.path) for e in entries if e.name.startswith(prefix) and e.is_dir()]
    except FileNotFoundError:
        return []


def publish_segment(
    layout: DataLayout,
    instance: str,
    columns: SegmentColumns,
    *,
    durable: bool = True,
    skip: SeqCoverage | None = None,
) -> list[Path]:
    """Write a segment's frames into the raw lake; returns the published files.

    With ``skip``, frames whose ``seq`` it holds are left out (they are already in the
    lake) and the published ones are added to it.
    """
    if not len(columns):
        return []
    table = columns.to_table()
    if skip is not None:
        keep = skip.missing(columns.first_seq, columns.last_seq)
        pieces = [table.slice(a - columns.first_seq, b - a + 1) for a, b in keep]
        if not pieces:
            return []
        table = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
    published = []
    for hour, part in split_by_hour(table):
        for first, last, rows in split_by_seq_run(part):
            name = raw_file_name(instance, first, last)
            published.append(
                write_parquet(rows, layout.raw_partition(hour) / name, durable=durable)
            )
            if skip is not None:
                skip.add(first, last)
    return published
