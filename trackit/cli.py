"""Entry point of the ``trackit`` console script.

Each subcommand lives in its own module of ``trackit.commands`` with two functions:
``register(subparsers)`` adds its parser, and the parser's ``handler`` default runs it.
Heavy imports (Airflow, DuckDB, pandera) happen inside handlers, so ``trackit --help``
stays fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys
from collections.abc import Sequence

from lake.errors import TrackitError
from lake.object_store import quiet_sdk_loggers
from lake.redaction import install_log_filter, redact
from trackit.options import OneLineArgumentParser, catalog_chosen

COMMAND_MODULES = (
    "simulate",
    "ingest",
    "outbound",
    "transform",
    "build",
    "run",
    "upgrade",
    "maintain",
    "demo",
    "report",
    "places",
    "sql",
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
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
    install_log_filter()
    quiet_sdk_loggers()
    try:
        with catalog_chosen(args):
            return int(args.handler(args) or 0)
    except TrackitError as exc:
        print(redact(f"trackit: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        message = disk_error_message(exc)
        if message is None:
            raise
        logging.getLogger("trackit").debug("file system error", exc_info=True)
        print(f"trackit: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("trackit: interrupted", file=sys.stderr)
        return 130


# Failures of the disk or the file system that no stage could turn into a better message.
_DISK_ERRORS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "not a directory",
    errno.EIO: "input/output error",
}


def disk_error_message(exc: OSError) -> str | None:
    """One line for an ``OSError`` of the disk or of a named file, else ``None``."""
    what = _DISK_ERRORS.get(exc.errno or 0)
    if what is None:
        if not exc.filename:
            return None
        what = exc.strerror or str(exc)
    where = f": {exc.filename}" if exc.filename else ""
    hint = "; free some space and run the command again" \
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return f"{what}{where}{hint}"


if __name__ == "__main__":
    sys.exit(main())
