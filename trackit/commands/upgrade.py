"""`trackit upgrade --data DIR`: a data directory with a core Parquet lake → the DuckLake.

Loads the legacy core lake, quarantine and transform ledger into the warehouse in one
transaction, prints the counts of both sides, then moves the legacy files into
``DATA/legacy/<timestamp>/`` (``transforms.migrate_core_lake``). Safe to rerun: a finished
upgrade is a no-op, an interrupted one is finished.
"""

from __future__ import annotations

import argparse
import logging

from lake.layout import DataLayout
from trackit.options import add_data_option, writable_data_location

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upgrade",
        help="move a data directory's core Parquet lake into the DuckLake warehouse",
        description=(
            "Load DATA/core, DATA/quarantine and the transform ledger of the release "
            "before the DuckLake warehouse into DATA/warehouse in one transaction, print "
            "the rows on both sides, then move the legacy files (and warehouse.duckdb, "
            "state/warehouse/build.duckdb) into DATA/legacy/<timestamp>/. Nothing is "
            "deleted. The first `trackit transform` or `trackit build` does the same."
        ),
    )
    add_data_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(handler=run)


def upgrade_lines(data: DataLayout, *, progress: bool = False) -> list[str]:
    """Upgrade ``data`` (``transforms.migrate_core_lake.upgrade``); the report's lines.

    DuckDB's errors become one line: nothing of the upgrade was committed then.
    """
    import duckdb

    from lake.errors import TrackitError
    from transforms.migrate_core_lake import upgrade
    from warehouse.errors import translated

    try:
        with translated(data, "upgrade"):
            return upgrade(data, progress=progress).lines()
    except duckdb.Error as exc:
        log.debug("upgrade failed", exc_info=True)
        raise TrackitError(f"upgrade failed in DuckDB: {str(exc).splitlines()[0]} (nothing "
                           "was committed; the legacy files are where they were)") from None


def run(args: argparse.Namespace) -> int:
    for line in upgrade_lines(writable_data_location(args, create=False),
                              progress=not args.quiet):
        print(line)
    return 0
