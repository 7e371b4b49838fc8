"""``trackit demo``: simulator + ingest + the Airflow DAG end to end, then a summary."""

from __future__ import annotations

import argparse

from trackit.options import add_data_option, writable_data_dir


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
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="how long ingest runs, in wall minutes (default: 2)")
    parser.add_argument("--speedup", type=float, default=120.0,
                        help="simulated seconds per wall second (default: 120)")
    parser.add_argument("--vehicles", type=int, default=12, help="fleet size (default: 12)")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default: 7)")
    parser.add_argument("--skip-airflow", action="store_true",
                        help="stop after ingest (no DAG run)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lake.errors import TrackitError
    from trackit.demo import Demo, DemoSettings

    if args.minutes <= 0 or args.speedup <= 0 or args.vehicles <= 0:
        raise TrackitError("--minutes, --speedup and --vehicles must be positive")
    settings = DemoSettings(
        data=writable_data_dir(args), minutes=args.minutes, speedup=args.speedup,
        vehicles=args.vehicles, seed=args.seed, skip_airflow=args.skip_airflow,
    )
    return Demo(settings).run()
