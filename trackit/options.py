"""Command-line options shared by several subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from lake.layout import default_data_dir


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data DIR``: the data directory (env ``TRACKIT_DATA``, default ``./data``)."""
    parser.add_argument(
        "--data", type=Path, default=None,
        help="data directory (default: $TRACKIT_DATA or ./data)",
    )


def data_dir(args: argparse.Namespace) -> Path:
    """The data directory chosen on the command line or by default."""
    return args.data if args.data is not None else default_data_dir()
