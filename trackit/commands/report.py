"""`trackit report`: write the self-contained HTML report of local days.

    trackit report [--data DIR] [--date YYYY-MM-DD | --from YYYY-MM-DD --to YYYY-MM-DD]
                   [--vehicle VID[,VID…]]… [--tz ZONE] [--out FILE]

The day defaults to yesterday in ``--tz`` (default ``$TRACKIT_TZ`` or UTC); ``--from`` and
``--to`` give a range of local days (either alone: that one day). The report goes to
``DATA/reports/<date>.html`` (``<from>_<to>``, ``_vehicles-…`` for a selection) unless
``--out`` says otherwise. The warehouse is opened read-only, so this runs beside analysts'
sessions and warehouse builds.
"""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trackit.options import add_data_option, data_location

TZ_ENV = "TRACKIT_TZ"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _tz(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {text!r} (an IANA name such as UTC or Europe/Lisbon)"
        ) from None
    return text


def _vehicles(text: str) -> list[int]:
    try:
        vids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected vehicle ids (integers, comma separated), got {text!r}") from None
    if not vids:
        raise argparse.ArgumentTypeError("expected at least one vehicle id")
    return vids


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the HTML report of one day's fleet activity",
        description="Write a self-contained HTML report of one local day from the "
                    "warehouse's marts (no network needed to view it).",
    )
    add_data_option(parser)
    parser.add_argument("--date", type=_day, default=None, metavar="YYYY-MM-DD",
                        help="local day to report (default: yesterday in --tz)")
    parser.add_argument("--from", dest="first", type=_day, default=None, metavar="YYYY-MM-DD",
                        help="first local day of a range (with --to; not with --date)")
    parser.add_argument("--to", dest="last", type=_day, default=None, metavar="YYYY-MM-DD",
                        help="last local day of a range, included")
    parser.add_argument("--vehicle", dest="vehicles", type=_vehicles, action="append",
                        default=None, metavar="VID[,VID...]",
                        help="report on these vehicles only (repeat or comma-separate; "
                             "default: the whole fleet)")
    parser.add_argument("--tz", "--timezone", dest="tz", type=_tz, default=None, metavar="ZONE",
                        help=f"IANA time zone of the day (default: ${TZ_ENV} or UTC)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="output file (default: DATA/reports/<date>.html)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lake.errors import TrackitError
    from reports.daily import report_path, write_daily_report
    from reports.days import yesterday

    tz = args.tz or os.environ.get(TZ_ENV) or "UTC"
    if args.date and (args.first or args.last):
        raise TrackitError("give either --date or --from/--to, not both")
    first = args.date or args.first or args.last or yesterday(tz)
    last = args.last or first
    if last < first:
        raise TrackitError(f"--to {last.isoformat()} is before --from {first.isoformat()}")
    vehicles = (None if args.vehicles is None
                else sorted({vid for group in args.vehicles for vid in group}))
    layout = data_location(args)
    out = args.out or report_path(layout.root, first, last, vehicles)
    try:
        write_daily_report(layout, first, out, tz, last_day=last,
                           vehicles=vehicles)
    except OSError as exc:
        raise TrackitError(f"cannot write the report {out}: {exc.strerror or exc} "
                           "(give --out FILE in a writable place)") from None
    print(out)
    return 0
