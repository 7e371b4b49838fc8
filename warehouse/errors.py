"""The warehouse's failures as one-line errors that name the file or folder and the fix.

DuckDB raises ``duckdb.Error`` subclasses whose text says what happened but not what an
operator should do; ``translated`` turns the ones an operator can act on (a full disk, a
damaged catalog, an unreadable data file) into ``TrackitError``s. Everything in the
warehouse but the named places (``DATA/reference``) is derived from the raw lake, so the
fix of last resort is always the same: move ``DATA/warehouse`` aside and rebuild.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.storage import is_disk_full

_DAMAGED_CATALOG_TEXTS = ("file is not a database", "database disk image is malformed")
_SQLITE_FULL_TEXT = "database or disk is full"
_LOW_SPACE_BYTES = 1 << 20
_DATA_FILE = re.compile(r"""['"]?(\S+\.parquet)['"]?""")


class WarehouseDamagedError(TrackitError):
    """A part of the warehouse (its catalog or a data file) cannot be read."""


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def disk_full_error(folder: Path, command: str) -> TrackitError:
    return TrackitError(
        f"no space left on device writing {folder}: free space there and rerun "
        f"`trackit {command}` (the unfinished transaction was rolled back)"
    )


def rebuild_hint(data_dir: Path) -> str:
    layout = DataLayout(data_dir)
    return (f"move {layout.warehouse} aside and run `trackit transform --data {data_dir}` "
            "and `trackit build`: the warehouse is rebuilt from the raw lake")


def _free_bytes(folder: Path) -> int:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
    return shutil.disk_usage(existing).free


def _says_disk_full(exc: BaseException) -> bool:
    return is_disk_full(exc) or _SQLITE_FULL_TEXT in str(exc)


def _short_of_space(exc: BaseException, folder: Path) -> bool:
    """Whether a DuckDB error that does not say why was raised with ``folder``'s disk full.

    When the SQLite catalog runs out of space while a DuckLake commit writes it, SQLite
    rolls its transaction back itself and DuckLake's own rollback then fails: the error
    DuckDB raises says only that (``cannot rollback``). Such an error raised while the
    warehouse's disk has less than a megabyte free counts as a full disk.
    """
    return isinstance(exc, duckdb.Error) and _free_bytes(folder) < _LOW_SPACE_BYTES


@contextmanager
def translated(data_dir: Path, command: str = "build") -> Iterator[None]:
    """Turn DuckDB's errors an operator can act on into one-line ``TrackitError``s."""
    layout = DataLayout(data_dir)
    try:
        yield
    except (duckdb.Error, OSError) as exc:
        text = first_line(exc)
        if _says_disk_full(exc):
            raise disk_full_error(layout.warehouse, command) from None
        if any(t in str(exc) for t in _DAMAGED_CATALOG_TEXTS):
            raise WarehouseDamagedError(
                f"the warehouse catalog {layout.warehouse_catalog} is damaged ({text}): "
                f"{rebuild_hint(data_dir)}") from None
        if (isinstance(exc, duckdb.InvalidInputException | duckdb.IOException)
                and (m := _DATA_FILE.search(str(exc)))
                and str(layout.warehouse_data) in m.group(1)):
            raise WarehouseDamagedError(
                f"warehouse data file {m.group(1)} is unreadable ({text}): "
                f"{rebuild_hint(data_dir)}") from None
        if _short_of_space(exc, layout.warehouse):
            raise disk_full_error(layout.warehouse, command) from None
        raise
