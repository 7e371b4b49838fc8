"""Entry point of the ``trackit`` console script.

Each subcommand lives in its own module of ``trackit.commands`` with two functions:
``register(subparsers)`` adds its parser, and the parser's ``handler`` default runs it.
Heavy imports (Airflow, DuckDB, pandera) happen inside handlers, so ``trackit --help``
stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from lake.errors import TrackitError

COMMAND_MODULES = (
    "simulate",
    "ingest",
    "outbound",
    "transform",
    "build",
    "demo",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trackit",
        description="TRACKiT WebSocket → Parquet lake → DuckDB warehouse.",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging verbosity (default: INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"trackit.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args) or 0)
    except TrackitError as exc:
        print(f"trackit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("trackit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
