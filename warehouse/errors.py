"""The warehouse's failures as one-line errors that name the file or folder and the fix.

DuckDB raises ``duckdb.Error`` subclasses whose text says what happened but not what an
operator should do; ``translated`` turns the ones an operator can act on (a full disk, a
damaged or locked builder database) into ``TrackitError``s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from lake.errors import TrackitError
from lake.storage import is_disk_full

_LOCK_TEXTS = ("Could not set lock", "Conflicting lock")
_CORRUPT_TEXTS = ("not a valid DuckDB database file", "Could not read enough bytes",
                  "Corrupt database file", "checksum")


class BuilderDatabaseError(TrackitError):
    """The builder's database cannot be used as it is."""


class CorruptCoreFileError(TrackitError):
    """A core-lake file cannot be read."""


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def is_lock_conflict(exc: BaseException) -> bool:
    return any(t in str(exc) for t in _LOCK_TEXTS)


def is_corrupt_database(exc: BaseException) -> bool:
    """Whether DuckDB says a database file is damaged (as opposed to busy or full)."""
    return any(t in str(exc) for t in _CORRUPT_TEXTS)


def disk_full_error(folder: Path, command: str) -> TrackitError:
    return TrackitError(
        f"no space left on device writing {folder}: free space there and rerun "
        f"`trackit {command}` (nothing half-written was published)"
    )


def damaged_builder_error(path: Path, exc: BaseException) -> BuilderDatabaseError:
    return BuilderDatabaseError(
        f"the builder's database {path} is damaged ({first_line(exc)}): delete the folder "
        f"{path.parent} and rerun `trackit build` (it rebuilds it from the core lake)"
    )


def locked_builder_error(path: Path, exc: BaseException) -> BuilderDatabaseError:
    return BuilderDatabaseError(
        f"the builder's database {path} is open in another process ({first_line(exc)}): "
        "only `trackit build` may open it; close that process and rerun"
    )


@contextmanager
def translated(builder: Path) -> Iterator[None]:
    """Turn DuckDB's errors an operator can act on into one-line ``TrackitError``s."""
    try:
        yield
    except duckdb.Error as exc:
        if is_disk_full(exc):
            raise disk_full_error(builder.parent, "build") from None
        if is_lock_conflict(exc):
            raise locked_builder_error(builder, exc) from None
        if is_corrupt_database(exc):
            raise damaged_builder_error(builder, exc) from None
        raise
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(builder.parent, "build") from None
        raise
