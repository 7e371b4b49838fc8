"""Command-line options and argument types shared by several subcommands.

Every type here rejects what a command cannot act on (NaN, infinities, zero where a count
is needed, ids outside TRACKiT's 64-bit range) with a message argparse prints as one line.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lake.errors import TrackitError
from lake.layout import DataLayout, data_layout

INT64_MAX = 2**63 - 1

# The largest simulated fleet of `trackit simulate` and `trackit demo`. Measured on one
# core: 10,000 vehicles take about 5 s and 300 MB to start and send about 330 frames per
# simulated second, far below what live generation sustains (~50k frames/s); 100,000 take
# 46 s and 2.9 GB before their first frame.
MAX_VEHICLES = 10_000
# Seeds of the simulator: each seed's fleet has its own block of ids (simulator.ids).
SEED_RANGE = (-10**12 + 1, 10**12)


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data DIR|s3://bucket/prefix``: the data directory (env ``TRACKIT_DATA``, default
    ``./data``); on object storage the local part is ``TRACKIT_LOCAL`` (default ``./data``)."""
    parser.add_argument(
        "--data", default=None, metavar="DIR|s3://BUCKET/PREFIX",
        help="data directory, or object storage for the raw lake and the warehouse's data "
        "files (local part: $TRACKIT_LOCAL or ./data) (default: $TRACKIT_DATA or ./data)",
    )
    add_catalog_option(parser)


def add_catalog_option(parser: argparse.ArgumentParser) -> None:
    """``--catalog URL``: the warehouse's catalog on PostgreSQL (env ``TRACKIT_CATALOG``,
    default the SQLite file under the data dir)."""
    parser.add_argument(
        "--catalog", type=catalog_url, default=None, metavar="URL",
        help="the warehouse catalog on PostgreSQL, postgresql://user@host:port/database "
             "(default: $TRACKIT_CATALOG, else DATA/warehouse/catalog.sqlite); the "
             "password from the URL, PGPASSWORD or ~/.pgpass",
    )


def catalog_url(text: str) -> str:
    """A ``postgresql://`` catalog URL, checked (its password registered as a secret)."""
    from lake.catalog import CatalogError, PostgresCatalog

    try:
        PostgresCatalog.parse(text)
    except CatalogError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


@contextmanager
def catalog_chosen(args: argparse.Namespace) -> Iterator[None]:
    """``TRACKIT_CATALOG`` set to ``--catalog`` for the command (the warehouse's code and
    the processes it starts read it there), restored afterwards."""
    from lake.catalog import CATALOG_ENV

    url = getattr(args, "catalog", None)
    if url is None:
        yield
        return
    before = os.environ.get(CATALOG_ENV)
    os.environ[CATALOG_ENV] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CATALOG_ENV, None)
        else:
            os.environ[CATALOG_ENV] = before


def data_location(args: argparse.Namespace) -> DataLayout:
    """The layout chosen on the command line or by default (``lake.layout.data_layout``).

    Raises:
        TrackitError: the local directory exists and is not a directory, or the s3:// URL
            is malformed.
    """
    layout = data_layout(args.data)
    if layout.root.exists() and not layout.root.is_dir():
        raise TrackitError(f"data directory {layout.root} is a file, not a directory")
    return layout


def data_dir(args: argparse.Namespace) -> Path:
    """The local data directory chosen on the command line or by default.

    Raises:
        TrackitError: the path exists and is not a directory.
    """
    return data_location(args).root


def writable_data_location(args: argparse.Namespace, *, create: bool = True) -> DataLayout:
    """:func:`data_location` with its local directory checked by :func:`writable_data_dir`."""
    layout = data_location(args)
    if layout.remote is not None:
        create = True  # the local part of a lake on object storage is only state
    _check_writable(layout.root, create=create)
    return layout


def writable_data_dir(args: argparse.Namespace, *, create: bool = True) -> Path:
    """The data directory of a command that writes, checked writable.

    ``create``: make it when missing (ingest, demo); otherwise a missing directory is an
    error, so a mistyped path never becomes a new, empty data directory (transform, build).

    Raises:
        TrackitError: it is missing (and ``create`` is false), or cannot be created or
            written (a file, a read-only mount, no permission).
    """
    return writable_data_location(args, create=create).root


def _check_writable(path: Path, *, create: bool) -> None:
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


def non_negative_int(text: str) -> int:
    """A whole number of at least 0 (days of lookback, ...)."""
    value = int(_number(text, int, "a whole number"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
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


def number_in(low: float, high: float | None = None, *, above: bool = False,
              kind: str = "a number") -> Callable[[str], float]:
    """A finite number at least ``low`` (above it, with ``above``), at most ``high``."""

    def parse(text: str) -> float:
        value = float(_number(text, float, kind))
        if above and value <= low:
            raise argparse.ArgumentTypeError(f"must be above {low:g}, got {text}")
        if value < low:
            floor = "negative" if low == 0 else f"below {low:g}"
            raise argparse.ArgumentTypeError(f"must not be {floor}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


positive_number = number_in(0, above=True)
"""A finite number above zero (minutes, hours, a speed-up)."""
non_negative_number = number_in(0)
"""A finite number, zero allowed (a scale factor)."""
positive_seconds = number_in(0, above=True, kind="a number of seconds")
"""A finite duration above zero."""
non_negative_seconds = number_in(0, kind="a number of seconds")
"""A finite duration, zero allowed (zero: off, or at once)."""
fraction = number_in(0, 1, kind="a number between 0 and 1")
"""A share between 0 and 1 (a rate)."""


def positive_up_to(high: float) -> Callable[[str], float]:
    """A finite number in ``(0, high]``."""
    return number_in(0, high, above=True)


# What argparse would take for an option but is a negative value: -10h, -6.5, -.5
_NEGATIVE_VALUE = re.compile(r"-\.?\d")


class OneLineArgumentParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``trackit demo: error: ...``), no usage.

    ``--help`` still prints the whole usage; subparsers inherit this class. Options named
    by ``allow_negative_values`` take a value starting with ``-`` and a digit as written
    (``--start -10h``), which argparse alone reads as an unknown option.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_value_options: set[str] = set()

    def allow_negative_values(self, *options: str) -> None:
        """Let each of ``options`` take a value such as ``-10h`` after a space."""
        self._negative_value_options.update(options)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._negative_value_options:
            args = _join_negative_values(
                list(sys.argv[1:] if args is None else args), self._negative_value_options
            )
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _join_negative_values(args: list[str], options: set[str]) -> list[str]:
    """``[opt, -10h]`` as ``[opt=-10h]`` for each of ``options``, up to a ``--``."""
    joined: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            joined.extend(args[index:])
            break
        following = args[index + 1] if index + 1 < len(args) else ""
        if arg in options and _NEGATIVE_VALUE.match(following):
            joined.append(f"{arg}={following}")
            index += 2
            continue
        joined.append(arg)
        index += 1
    return joined
