"""`trackit build`: the marts recomputed around the new core rows, checked, committed as
one warehouse snapshot (or nothing)."""

from __future__ import annotations

import argparse
import logging
import os

from trackit.options import add_data_option, writable_data_location

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build the marts around the newly transformed rows, check them, commit",
        description=(
            "Recompute the marts around the core rows `trackit transform` stored since the "
            "last build (and the named places, when `trackit places import` changed them), "
            "run the checks and commit all of it, with the checks' verdict, as one snapshot "
            "of the warehouse (DATA/warehouse/). A failed check commits nothing but the "
            "failed verdict: readers keep the last good snapshot."
        ),
    )
    add_data_option(parser)
    parser.add_argument(
        "--timezone", default=os.environ.get("TRACKIT_TZ") or "UTC",
        help="IANA time zone of the local day of marts.vehicle_daily "
             "(default: $TRACKIT_TZ or UTC, as the DAGs and trackit report)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfoNotFoundError

    import duckdb

    from lake.errors import TrackitError
    from trackit.commands.upgrade import upgrade_lines
    from transforms.migrate_core_lake import needs_upgrade
    from warehouse.build import build_warehouse
    from warehouse.config import WarehouseConfig

    try:
        config = WarehouseConfig(timezone=args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TrackitError(f"unknown time zone {args.timezone!r}") from None
    data = writable_data_location(args, create=False)
    if needs_upgrade(data):  # a core Parquet lake of an older release: into the DuckLake
        for line in upgrade_lines(data):
            print(line)
    try:
        summary = build_warehouse(data, config=config)
    except duckdb.Error as exc:
        log.debug("build failed", exc_info=True)
        raise TrackitError(f"warehouse build failed in DuckDB: {str(exc).splitlines()[0]} "
                           "(nothing was committed)") from None
    for line in summary.lines():
        print(line)
    return 0
