"""Command-line options and argument types shared by several subcommands.

Every type here rejects what a command cannot act on (NaN, infinities, zero where a count
is needed, ids outside TRACKiT's 64-bit range) with a message argparse prints as one line.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path

from lake.errors import TrackitError
from lake.layout import default_data_dir

INT64_MAX = 2**63 - 1


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data DIR``: the data directory (env ``TRACKIT_DATA``, default ``./data``)."""
    parser.add_argument(
        "--data", type=Path, default=None,
        help="data directory (default: $TRACKIT_DATA or ./data)",
    )


def data_dir(args: argparse.Namespace) -> Path:
    """The data directory chosen on the command line or by default.

    Raises:
        TrackitError: the path exists and is not a directory.
    """
    path: Path = args.data if args.data is not None else default_data_dir()
    if path.exists() and not path.is_dir():
        raise TrackitError(f"data directory {path} is a file, not a directory")
    return path


def writable_data_dir(args: argparse.Namespace, *, create: bool = True) -> Path:
    """The data directory of a command that writes, checked writable.

    ``create``: make it when missing (ingest, demo); otherwise a missing directory is an
    error, so a mistyped path never becomes a new, empty data directory (transform, build).

    Raises:
        TrackitError: it is missing (and ``create`` is false), or cannot be created or
            written (a file, a read-only mount, no permission).
    """
    path = data_dir(args)
    if not path.exists() and not create:
        raise TrackitError(
            f"data directory {path} does not exist (check --data / TRACKIT_DATA)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackitError(
            f"cannot create data directory {path}: {exc.strerror or exc}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise TrackitError(
            f"data directory {path} is not writable (read-only file system or no permission)"
        )
    return path


def _number(text: str, convert: Callable[[str], float | int], kind: str) -> float | int:
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A count that must be at least 1 (frames per batch, vehicles, ...)."""
    value = int(_number(text, int, "a whole number"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """A whole number in ``[low, high]``."""

    def parse(text: str) -> int:
        value = int(_number(text, int, "a whole number"))
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def device_id(text: str) -> int:
    """A TRACKiT id (``uid``, ``user_id``): a positive 64-bit integer."""
    value = int(_number(text, int, "a whole number"))
    if not 1 <= value <= INT64_MAX:
        raise argparse.ArgumentTypeError(f"must be between 1 and 2^63-1, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """A finite duration above zero."""
    value = float(_number(text, float, "a number of seconds"))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def non_negative_seconds(text: str) -> float:
    """A finite duration, zero allowed."""
    value = float(_number(text, float, "a number of seconds"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


class OneLineArgumentParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``trackit demo: error: ...``), no usage.

    ``--help`` still prints the whole usage; subparsers inherit this class.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
