"""`trackit sql`: query the warehouse read-only, one query or an interactive SQL shell.

    trackit sql [--data DIR] [--catalog URL] [--format table|csv|json] [--at-version N]
                [QUERY]

With QUERY, its statements run in order and the rows of the last one are printed. Without
it, a shell reads statements ending in ``;`` from the terminal (line editing and history
through readline) or from standard input when that is not a terminal
(``echo "select 1;" | trackit sql``). The warehouse is attached read-only at its latest
snapshot, or at snapshot N with ``--at-version``; a build or a transform neither waits for
it nor is waited for. With ``--catalog postgresql://...`` (or ``TRACKIT_CATALOG``) it reads
the shared warehouse from any machine: the catalog says where the data files are, so no
local data dir is needed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from trackit.options import INT64_MAX, add_data_option, bounded_int, data_location
from trackit.sql_output import FORMATS

if TYPE_CHECKING:
    import duckdb

    from lake.layout import DataLayout


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sql",
        help="query the warehouse read-only: one query, or an interactive SQL shell",
        description=(
            "Run QUERY on the warehouse (schemas core, marts, meta) and print the rows of "
            "its last statement; without QUERY, read statements ending in ; from the "
            "terminal or from standard input. The warehouse is read-only here: a statement "
            "that writes fails. Time travel: --at-version N, or "
            "`select ... from marts.trips at (version => N)` in a query; the snapshots are "
            "listed by `select * from ducklake_snapshots('warehouse')`."
        ),
    )
    add_data_option(parser)
    parser.add_argument(
        "--format", choices=FORMATS, default="table",
        help="table: aligned text with a header (default); csv: RFC 4180 with a header; "
             "json: a list of objects, times ISO-8601 with their offset",
    )
    parser.add_argument(
        "--at-version", type=bounded_int(0, INT64_MAX), default=None, metavar="N",
        help="see the warehouse as its snapshot N left it (default: the latest)",
    )
    parser.add_argument("query", nargs="?", default=None, metavar="QUERY",
                        help="SQL to run (default: the interactive shell)")
    parser.set_defaults(handler=run)


def open_snapshot(data: Path | DataLayout, version: int | None) -> duckdb.DuckDBPyConnection:
    """The warehouse attached read-only, at ``version`` if given."""
    import duckdb

    from lake.ducklake import WarehouseLocation, open_warehouse
    from lake.errors import TrackitError
    from trackit.sql_shell import one_line

    location = WarehouseLocation.of(data)
    try:
        return open_warehouse(data, read_only=True, snapshot_version=version,
                              location=location)
    except duckdb.Error as exc:
        if version is None or "No snapshot found" not in str(exc):
            text = one_line(str(exc))
            if location.postgres is not None:
                raise TrackitError(f"cannot open the warehouse of catalog {location}: "
                                   f"{location.postgres.scrub(text)}") from None
            folder = Path(str(location)).parent
            raise TrackitError(
                f"cannot open the warehouse {location}: {text} (a damaged "
                f"catalog: move {folder} aside, then trackit transform and trackit "
                "build rebuild it from the raw lake)") from None
    with open_warehouse(data, read_only=True, location=location) as con:
        latest = con.sql("select max(snapshot_id) from ducklake_snapshots('warehouse')"
                         ).fetchone()[0]  # type: ignore[index]
    raise TrackitError(f"the warehouse {location} has no snapshot {version}: its snapshots "
                       f"go up to {latest} (trackit sql \"select * from "
                       "ducklake_snapshots('warehouse')\" lists them)")


def read_line_from(stream: TextIO) -> Callable[[str], str]:
    """A line reader over a non-terminal ``stream``: no prompt, ``EOFError`` at its end."""

    def read_line(prompt: str) -> str:
        line = stream.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    return read_line


def run(args: argparse.Namespace) -> int:
    from lake.catalog import CATALOG_ENV
    from lake.ducklake import WarehouseLocation
    from trackit.sql_shell import SqlShell, WarehouseSql

    data = data_location(args)
    try:
        with open_snapshot(data, args.at_version) as con:
            sql = WarehouseSql(con)
            if args.query is not None:
                sql.run_last(args.query, args.format, sys.stdout)
                return 0
            interactive = sys.stdin.isatty()
            prompt = "warehouse" if args.at_version is None else f"warehouse@{args.at_version}"
            shell = SqlShell(sql, fmt=args.format, out=sys.stdout, err=sys.stderr,
                             prompt=prompt)
            if interactive:
                with contextlib.suppress(ImportError):
                    import readline  # noqa: F401  (line editing and history for input())
                snapshot = con.sql("from warehouse.current_snapshot()").fetchone()
                where = (f"the warehouse of catalog {WarehouseLocation.of(data)}"
                         if os.environ.get(CATALOG_ENV) else f"{data.location}/warehouse")
                print(f"trackit sql: {where} at snapshot {snapshot[0]}, read-only; "  # type: ignore[index]
                      "end statements with ;  .help  .quit", file=sys.stderr)
                # input() writes its prompt to stdout: none when stdout is a file or a pipe.
                prompts = sys.stdout.isatty()
                shell.run(lambda prompt: input(prompt if prompts else ""))
                print(file=sys.stderr)
                return 0
            shell.run(read_line_from(sys.stdin))
            return 1 if shell.failures else 0
    except BrokenPipeError:
        # The reader of stdout left (`| head`): stop quietly, as other Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
