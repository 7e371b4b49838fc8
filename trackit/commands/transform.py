"""`trackit transform --data DIR`: raw lake → core tables + quarantine, then the counts."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from trackit.options import (
    add_data_option,
    non_negative_int,
    positive_int,
    writable_data_location,
)

if TYPE_CHECKING:
    from transforms.pipeline import TransformSummary


log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "transform",
        help="raw lake → typed core tables + quarantine (incremental, idempotent)",
        description=(
            "Parse, route, type and validate every raw frame not yet transformed, write "
            "the core tables and the quarantine, and print where every frame landed. "
            "Fails if the counts do not reconcile."
        ),
    )
    add_data_option(parser)
    parser.add_argument(
        "--batch-frames", type=positive_int, default=None, metavar="N",
        help="frames per batch: memory follows this (default: 250000)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--lookback-days", type=non_negative_int, default=None, metavar="D",
        help="raw lake on object storage: list only from D days before the newest date "
        "already transformed (default: $TRACKIT_RAW_LOOKBACK_DAYS or 3)",
    )
    parser.add_argument(
        "--full-listing", action="store_true",
        help="raw lake on object storage: list every raw object (finds files published "
        "into dates older than the lookback)",
    )
    parser.add_argument(
        "--show-sql", metavar="ROUTE", default=None,
        help="print the DuckDB queries of ROUTE (records, event:io, form, out:api, ...) "
             "and exit; reads no data",
    )
    parser.set_defaults(handler=run)


def show_sql(route: str) -> str:
    """The SQL of ``route``'s queries, as the transform runs them."""
    from lake.errors import TrackitError
    from transforms.route_sql import route_queries
    from transforms.routes import ROUTES

    if route not in ROUTES:
        raise TrackitError(f"no route {route!r}: the routes are {', '.join(ROUTES)}")
    return route_queries(route).text()


def format_summary(summary: TransformSummary) -> str:
    """The counts table printed by the command (also usable by the demo)."""
    lines = [*summary.upgrade, *([""] if summary.upgrade else []),
        f"raw files transformed: {summary.files_processed} "
        f"(already done: {summary.files_skipped})",
        f"frames: {summary.frames} ({summary.frames_in} in, {summary.frames_out} out)",
        "",
        f"{'landed in':<34}{'frames':>10}",
        f"{'  loaded (typed tables)':<34}{summary.loaded_frames:>10}",
        f"{'  duplicates collapsed':<34}{summary.duplicate_frames:>10}",
        f"{'  quarantined':<34}{summary.quarantined_frames:>10}",
    ]
    lines += [f"{'    ' + reason:<34}{n:>10}"
              for reason, n in sorted(summary.quarantined.items())]
    lines += [
        f"{'  control (auth)':<34}{summary.control_frames:>10}",
        f"{'  total':<34}{summary.frames:>10}"
        + ("   reconciles" if summary.reconciles else "   DOES NOT RECONCILE"),
        f"{'  (repaired, then loaded or not)':<34}{summary.repaired_frames:>10}",
        "",
        f"{'table':<34}{'rows':>10}",
    ]
    lines += [f"{'  ' + t:<34}{n:>10}" for t, n in sorted(summary.rows.items())]
    loads = (f"loads {summary.loads[0]}–{summary.loads[-1]}" if len(summary.loads) > 1
             else f"load {summary.loads[0]}" if summary.loads else "nothing new")
    lines.append(f"\n{summary.rows_written} rows stored in the warehouse ({loads}) "
                 f"in {summary.seconds:.1f}s")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import duckdb

    from lake.errors import TrackitError
    from transforms.pipeline import DEFAULT_BATCH_FRAMES, transform_lake
    from warehouse.errors import translated

    if args.show_sql is not None:
        print(show_sql(args.show_sql), end="")
        return 0
    layout = writable_data_location(args, create=False)
    try:
        with translated(layout.root, "transform"):
            summary = transform_lake(
                layout,
                progress=not args.quiet,
                batch_frames=args.batch_frames or DEFAULT_BATCH_FRAMES,
                lookback_days=args.lookback_days,
                full_listing=args.full_listing,
            )
    except duckdb.OutOfMemoryException:
        raise TrackitError(
            "DuckDB ran out of memory routing a batch: rerun with a smaller --batch-frames "
            "(nothing of the unfinished batch was recorded)"
        ) from None
    except duckdb.Error as exc:
        log.debug("transform failed", exc_info=True)
        raise TrackitError(f"transform failed in DuckDB: {str(exc).splitlines()[0]} "
                           "(nothing of the unfinished batch was recorded)") from None
    print(format_summary(summary))
    return 0
