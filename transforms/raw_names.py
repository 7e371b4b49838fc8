"""A raw file's path below its ``date=`` partition: what tells two raw files apart.

Raw files with the same name in two hour folders of one day (a lake written by another
tool) differ here, so the seqs substituted for their frames differ too.
"""

from __future__ import annotations

from pathlib import Path

from lake.layout import partition_date


def below_date(raw_file: Path) -> tuple[str, ...]:
    """The parts of ``raw_file``'s path below its (innermost) ``date=`` partition."""
    parts = raw_file.parts
    folder = f"date={partition_date(raw_file)}"
    start = max(i for i, part in enumerate(parts[:-1]) if part == folder)
    return parts[start + 1:]
