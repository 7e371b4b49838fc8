"""`trackit maintain`: merge the warehouse's small files, expire old snapshots, delete files."""

from __future__ import annotations

import argparse

from trackit.options import add_data_option, writable_data_location


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "maintain",
        help="merge small warehouse files, expire old snapshots, delete unneeded files",
        description=(
            "Merge the warehouse's small data files, expire the snapshots older than the "
            "retention (time travel reaches back only that far) and delete the data files "
            "no snapshot needs any more. Readers keep reading meanwhile."
        ),
    )
    add_data_option(parser)
    parser.add_argument(
        "--retention", default=None, metavar="DURATION",
        help="keep the snapshots of this last period, e.g. 7d, 12h, 30m "
             "(default: $TRACKIT_SNAPSHOT_RETENTION or 7d)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from warehouse.maintenance import maintain_warehouse, parse_retention, retention_from_env

    retention = (parse_retention(args.retention) if args.retention is not None
                 else retention_from_env())
    summary = maintain_warehouse(writable_data_location(args, create=False), retention=retention)
    print(f"maintain: {summary}")
    return 0
