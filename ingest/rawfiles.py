"""Raw-lake files of the ingest: deterministic names, publishing, and what is published.

A rolled segment becomes one Parquet file per hive partition
(``DATA/raw/date=YYYY-MM-DD/hour=HH/``, by UTC receive time) and run of consecutive
``seq``, named ``<instance>-<first seq:016d>-<last seq:016d>.parquet``. The name depends
only on the instance and the frames, so rolling the same segment again after a crash
replaces the same files instead of duplicating them, and several ingest instances never
collide. Since a file holds exactly the ``seq`` its name says, the names alone tell which
``seq`` of an instance the raw lake holds (:func:`published_seqs`).

On object storage (``--data s3://...``) each file is published by one create-only PUT
(``lake.storage.publish_parquet``), and what an instance holds is learnt from listings of
only the hour prefixes it needs (``Prefix=raw/date=D/hour=H/<instance>-``), never from a
listing of the whole bucket.
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ingest.segment import SegmentColumns
from lake.layout import DataLayout, raw_partition_key
from lake.object_store import object_store
from lake.storage import TMP_PREFIX, publish_parquet

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


HourLister = Callable[[datetime], list[tuple[int, int]]]


class SeqCoverage:
    """The ``seq`` an instance's raw lake holds, as sorted disjoint ranges.

    On object storage the coverage is learnt hour by hour: ``hour_lister`` lists one hour
    partition, and :meth:`cover_hours` lists the hours not listed yet; ``newest`` is the
    highest ``seq`` found in the lake (possibly in an hour not listed).
    """

    def __init__(self, ranges: list[tuple[int, int]] | None = None, *,
                 hour_lister: HourLister | None = None, newest: int = 0) -> None:
        self._firsts: list[int] = []
        self._lasts: list[int] = []
        self._hour_lister = hour_lister
        self._listed_hours: set[datetime] = set()
        self._newest = newest
        for first, last in sorted(ranges or []):
            self.add(first, last)

    @property
    def max_seq(self) -> int:
        """The highest ``seq`` held, ``0`` if none."""
        return max(self._lasts[-1] if self._lasts else 0, self._newest)

    def cover_hours(self, hours: Iterable[datetime]) -> None:
        """Make sure the hour partitions ``hours`` are known (object storage: list them)."""
        if self._hour_lister is None:
            return
        for hour in sorted(set(hours) - self._listed_hours):
            for first, last in self._hour_lister(hour):
                self.add(first, last)
            self._listed_hours.add(hour)

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
    """Which ``seq`` of ``instance`` the raw lake holds, from its file names alone.

    On object storage the hours are listed on demand (:meth:`SeqCoverage.cover_hours`) and
    the highest ``seq`` is found by walking the partitions back from the newest until one
    holds a file of ``instance``.
    """
    if layout.remote is not None:
        return _remote_published_seqs(layout, instance)
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


def _remote_published_seqs(layout: DataLayout, instance: str) -> SeqCoverage:
    assert layout.remote is not None
    store = object_store(layout.remote)

    def ranges_in(prefix: str) -> list[tuple[int, int]]:
        found = []
        for listed in store.list(f"{prefix}/{instance}-"):
            match = _RAW_NAME.fullmatch(listed.relative.rsplit("/", 1)[-1])
            if match and match["instance"] == instance:
                found.append((int(match["first"]), int(match["last"])))
        return found

    def newest() -> int:
        for date in sorted(store.list("raw/date=", delimiter="/"), reverse=True):
            for hour in sorted(store.list(date, delimiter="/"), reverse=True):
                held = ranges_in(hour.rstrip("/"))
                if held:
                    return max(last for _, last in held)
        return 0

    return SeqCoverage(hour_lister=lambda hour: ranges_in(raw_partition_key(hour)),
                       newest=newest())


def _hours(table: pa.Table) -> list[datetime]:
    micros = pc.divide(table.column("received_at").cast(pa.int64()), _MICROS_PER_HOUR)
    return [datetime.fromtimestamp(hour * 3600, UTC) for hour in pc.unique(micros).to_pylist()]


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
) -> list[Path | str]:
    """Write a segment's frames into the raw lake; returns the published files (local
    paths, or ``s3://`` URLs on object storage).

    With ``skip``, frames whose ``seq`` it holds are left out (they are already in the
    lake) and the published ones are added to it.

    Raises:
        ObjectExistsError: on object storage, another writer published other bytes under
            one of the names (two processes share the instance name).
    """
    if not len(columns):
        return []
    table = columns.to_table()
    if skip is not None:
        skip.cover_hours(_hours(table))
        keep = skip.missing(columns.first_seq, columns.last_seq)
        pieces = [table.slice(a - columns.first_seq, b - a + 1) for a, b in keep]
        if not pieces:
            return []
        table = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
    published: list[Path | str] = []
    owner = (f"two ingest processes share the instance name {instance!r}; give each its "
             "own --instance")
    for hour, part in split_by_hour(table):
        for first, last, rows in split_by_seq_run(part):
            relative = f"{raw_partition_key(hour)}/{raw_file_name(instance, first, last)}"
            published.append(publish_parquet(rows, layout, relative, durable=durable,
                                             owner_hint=owner))
            if skip is not None:
                skip.add(first, last)
    return published
