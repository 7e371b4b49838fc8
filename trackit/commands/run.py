"""`trackit run --data DIR`: transform and build every few seconds, a warehouse fresh
within a minute (see docs/freshness.md)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from trackit.options import (
    add_data_option,
    non_negative_seconds,
    positive_seconds,
    writable_data_location,
)

log = logging.getLogger(__name__)

INTERVAL_S = 10.0
MAINTENANCE_EVERY = 30  # cycles: 5 minutes at the default interval
RAW_GRACE_S = 600.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="transform + build every few seconds until stopped (a fresh warehouse)",
        description=(
            "Repeat, every --interval seconds: transform the new raw files, compact the "
            "raw files of closed hours, build the marts; every --maintenance-every cycles, "
            "merge the warehouse's small data files and expire old snapshots. One log line "
            "per cycle. A failed cycle is retried with a growing backoff; SIGTERM or Ctrl-C "
            "stops after the cycle under way (exit 0). Run the ingest with a short "
            "--roll-seconds (e.g. 10) next to it."
        ),
    )
    add_data_option(parser)
    parser.add_argument(
        "--interval", type=positive_seconds, default=INTERVAL_S, metavar="S",
        help="seconds from the start of a cycle to the start of the next "
             "(default: %(default)g)",
    )
    parser.add_argument("--once", action="store_true",
                        help="run one cycle and exit (non-zero if it failed)")
    parser.add_argument(
        "--maintenance-every", type=int, default=MAINTENANCE_EVERY, metavar="N",
        help="maintain the warehouse every N successful cycles, 0: never "
             "(default: %(default)s)",
    )
    parser.add_argument(
        "--raw-grace", type=non_negative_seconds, default=RAW_GRACE_S, metavar="S",
        help="compact the raw files of an hour S seconds after the hour ended "
             "(default: %(default)g)",
    )
    parser.add_argument(
        "--timezone", default=os.environ.get("TRACKIT_TZ") or "UTC",
        help="IANA time zone of the local day of marts.vehicle_daily "
             "(default: $TRACKIT_TZ or UTC)",
    )
    parser.set_defaults(handler=run)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop``; a second one interrupts at once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("%s: stopping after the cycle under way", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfoNotFoundError

    import duckdb

    from lake.errors import TrackitError
    from warehouse.config import WarehouseConfig
    from warehouse.continuous import run_continuously
    from warehouse.errors import first_line
    from warehouse.maintenance import retention_from_env

    if args.maintenance_every < 0:
        raise TrackitError(f"--maintenance-every must not be negative, got "
                           f"{args.maintenance_every}")
    try:
        config = WarehouseConfig(timezone=args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TrackitError(f"unknown time zone {args.timezone!r}") from None
    data = writable_data_location(args, create=False)
    stop = threading.Event()
    log.info("trackit run on %s: a cycle every %gs", data.location, args.interval)
    try:
        with stop_on_signals(stop):
            cycles = run_continuously(
                data, interval_s=args.interval, once=args.once, config=config, stop=stop,
                maintenance_every=args.maintenance_every, retention=retention_from_env(),
                grace_s=args.raw_grace)
    except duckdb.Error as exc:
        log.debug("cycle failed", exc_info=True)
        raise TrackitError(f"cycle failed in DuckDB: {first_line(exc)}") from None
    log.info("trackit run stopped after %d cycles", cycles)
    return 0
