"""Write a transformed batch into the core lake: one file per raw file per table.

``DATA/core/<table>/date=YYYY-MM-DD/<output name>.parquet`` and
``DATA/quarantine/date=YYYY-MM-DD/<output name>.parquet``, where the date is the raw
file's own partition and the output name is the raw file's path below that partition with
``__`` between folders (``raw/date=D/hour=05/x.parquet`` → ``hour=05__x.parquet``): raw
files of the same name in two hour folders of a day get two names. Names derive only from
the raw file, so a rerun replaces each file with an identical one (atomically, through
``lake.storage.write_parquet``). A table with no row for a raw file gets no file.

Core lakes written when the output name was the raw file's bare stem (``x.parquet``)
still work: ``raw_file_of`` finds their raw file, and ``legacy_output_paths`` names them
so that a rerun of their raw file removes them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa

from lake.errors import TrackitError
from lake.layout import DataLayout, partition_date
from lake.storage import is_disk_full, write_parquet
from schemas.core_tables import CORE_TABLES
from transforms.batch import BatchResult, quarantine_arrow
from transforms.raw_names import FOLDER_SEPARATOR, output_name

# LZ4 (Parquet's LZ4_RAW): about 40 % less CPU than zstd to write and faster to read, for
# files about 30 % larger. Core files are rewritten from the raw lake at will, and the
# warehouse keeps its own compressed copy, so write speed wins here.
CORE_COMPRESSION = "lz4"


def raw_date(raw_file: Path) -> str:
    """The ``YYYY-MM-DD`` of the raw partition holding ``raw_file``."""
    return partition_date(raw_file)


def _paths(layout: DataLayout, raw_file: Path, stem: str) -> dict[str, Path]:
    date = f"date={raw_date(raw_file)}"
    name = f"{stem}.parquet"
    paths = {t: layout.core_table(t) / date / name for t in CORE_TABLES if t != "quarantine"}
    paths["quarantine"] = layout.quarantine / date / name
    return paths


def output_paths(layout: DataLayout, raw_file: Path) -> dict[str, Path]:
    """Where the rows of ``raw_file`` go, table by table (``quarantine`` included)."""
    return _paths(layout, raw_file, output_name(raw_file))


def legacy_output_paths(layout: DataLayout, raw_file: Path) -> dict[str, Path]:
    """Where a core lake whose output names were bare raw stems holds ``raw_file``'s rows
    (empty when that is where ``output_paths`` writes)."""
    if output_name(raw_file) == raw_file.stem:
        return {}
    return _paths(layout, raw_file, raw_file.stem)


def raw_file_of(layout: DataLayout, path: Path) -> Path:
    """The raw file whose transform wrote ``path`` (a core or quarantine file), or ``path``
    itself when it is a raw file. Raises ``TrackitError`` when there is none."""
    root = layout.root.resolve()
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise TrackitError(f"{path} is not a file of the data directory {layout.root}")
    relative = resolved.relative_to(root)
    area = relative.parts[0] if relative.parts else ""
    if area == "raw":
        if not resolved.is_file():
            raise TrackitError(f"raw file {path} does not exist")
        return layout.root / relative
    if area not in ("core", "quarantine") or path.suffix != ".parquet":
        raise TrackitError(f"{path} is neither a raw, core nor quarantine file")
    date_folder = layout.raw / f"date={partition_date(resolved)}"
    if FOLDER_SEPARATOR in path.stem:
        candidate = date_folder.joinpath(*path.stem.split(FOLDER_SEPARATOR)).with_suffix(
            ".parquet")
        found = [candidate] if candidate.is_file() else []
        shown = candidate
    else:  # a bare stem: the raw file directly in the date folder, or (a core lake
        # written with bare stems) in one of its hour folders
        found = [p for p in [date_folder / path.name, *sorted(
            date_folder.glob(f"hour=*/{path.name}"))] if p.is_file()]
        shown = date_folder / "hour=*" / path.name
    if not found:
        raise TrackitError(
            f"no raw file {shown} to write {path} again "
            "from: delete it if its rows are not needed, then rerun"
        )
    return found[0]


def disk_full_error(folder: Path) -> TrackitError:
    return TrackitError(
        f"no space left on device writing {folder}: free space there and rerun `trackit "
        "transform` (the unfinished batch was not recorded and is redone; every file "
        "published so far is whole)"
    )


def dictionary_columns(table: str) -> list[str]:
    """Columns worth dictionary encoding: repetitive strings (labels, names, sources).

    Dictionary-encoding every column costs about half the write time for nothing on
    numbers, times and unique ids.
    """
    schema = CORE_TABLES[table].arrow_schema
    return [f.name for f in schema if pa.types.is_string(f.type)
            and f.name not in _UNIQUE_STRINGS]


_UNIQUE_STRINGS = frozenset({"extra", "frame", "reason", "event_id", "record_id",
                             "message_id", "service_event_id", "command_id", "guid",
                             "form_id", "text"})


def _arrow(table: str, df: pl.DataFrame) -> pa.Table:
    schema = CORE_TABLES[table].arrow_schema
    return df.select(schema.names).to_arrow().cast(schema)


def publish_batch(layout: DataLayout, result: BatchResult, *, durable: bool = True) -> int:
    """Write every output file of ``result``; the number of files written."""
    written = 0
    frames = {**result.tables, "quarantine": result.quarantine}
    for table, df in frames.items():
        if df.height == 0:
            continue
        for (file_index,), part in df.partition_by("_file", as_dict=True,
                                                   maintain_order=True).items():
            raw_file = result.files[int(file_index)]
            target = output_paths(layout, raw_file)[table]
            if table == "quarantine":
                relative = raw_file.relative_to(layout.root).as_posix()
                data = quarantine_arrow(part.with_columns(raw_file=pl.lit(relative)))
            else:
                data = _arrow(table, part)
            try:
                write_parquet(data, target, durable=durable, compression=CORE_COMPRESSION,
                              use_dictionary=dictionary_columns(table))
            except OSError as exc:
                if is_disk_full(exc):
                    raise disk_full_error(target.parent) from None
                raise
            written += 1
    return written
