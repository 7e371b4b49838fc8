"""`trackit transform`: placeholder until its stage lands."""

from __future__ import annotations

import argparse

from trackit.errors import TrackitError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("transform", help="(not implemented yet)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise TrackitError("trackit transform is not implemented yet")
