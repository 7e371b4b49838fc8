"""Names derived from a raw file's path: the stem of its output files.

A raw file ``raw/date=D/<folders>/<stem>.parquet`` writes its core and quarantine rows to
files named after its path below the ``date=`` partition, folders joined by ``__``
(``raw/date=D/hour=05/x.parquet`` → ``hour=05__x``): raw files with the same name in two
hour folders of one day (a lake written by another tool) get different outputs.
"""

from __future__ import annotations

from pathlib import Path

from lake.layout import partition_date

FOLDER_SEPARATOR = "__"


def below_date(raw_file: Path) -> tuple[str, ...]:
    """The parts of ``raw_file``'s path below its (innermost) ``date=`` partition."""
    parts = raw_file.parts
    folder = f"date={partition_date(raw_file)}"
    start = max(i for i, part in enumerate(parts[:-1]) if part == folder)
    return parts[start + 1:]


def output_name(raw_file: Path) -> str:
    """The stem of every output file of ``raw_file`` (see the module's docstring)."""
    *folders, name = below_date(raw_file)
    return FOLDER_SEPARATOR.join([*folders, Path(name).stem])
