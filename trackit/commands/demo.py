"""``trackit demo``: simulator + ingest + the Airflow DAG end to end, then a summary."""

from __future__ import annotations

import argparse

from trackit.options import (
    MAX_VEHICLES,
    SEED_RANGE,
    add_data_option,
    bounded_int,
    data_location,
    positive_number,
    writable_data_dir,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on the simulator and summarise it",
        description=(
            "Start the simulator (with a dropped connection, malformed and duplicated frames), "
            "run ingest for --minutes while hours of fleet activity pass, send a driver message "
            "and a getio through the live socket, run the Airflow DAG trackit_warehouse and "
            "print a summary against the simulator's ground truth. A second run adds to the "
            "same data directory."
        ),
    )
    add_data_option(parser)
    parser.add_argument("--minutes", type=positive_number, default=2.0,
                        help="how long ingest runs, in wall minutes (default: 2)")
    parser.add_argument("--speedup", type=positive_number, default=120.0,
                        help="simulated seconds per wall second (default: 120)")
    parser.add_argument("--vehicles", type=bounded_int(1, MAX_VEHICLES), default=12,
                        metavar="N", help=f"fleet size, at most {MAX_VEHICLES:,} (default: 12)")
    parser.add_argument("--seed", type=bounded_int(*SEED_RANGE), default=7,
                        help="simulator seed (default: 7)")
    parser.add_argument("--skip-airflow", action="store_true",
                        help="stop after ingest (no DAG run)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lake.errors import TrackitError
    from trackit.demo import Demo, DemoSettings

    layout = data_location(args)
    if layout.remote is not None:
        # The demo's simulator, ground truth and summary are one machine's: a local lake.
        raise TrackitError(
            f"trackit demo runs on a local data directory, not {layout.remote}: give "
            "--data DIR (trackit ingest, transform, build and run take s3:// locations)")

    settings = DemoSettings(
        data=writable_data_dir(args), minutes=args.minutes, speedup=args.speedup,
        vehicles=args.vehicles, seed=args.seed, skip_airflow=args.skip_airflow,
    )
    return Demo(settings).run()
