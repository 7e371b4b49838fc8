"""Run the routes' queries (``transforms.route_sql``) over a batch, routes in parallel.

Routes run ``ROUTE_THREADS`` at a time, each thread on its own DuckDB cursor (DuckDB
releases the GIL), since each query gets few DuckDB threads of its own
(``transforms.pipeline.query_threads``). A route's query reads its frames from the
relation ``route_sql.frames_relation`` names: an Arrow table registered on the thread's
cursor; its child queries read its rows, registered under ``route_sql.rows_relation``.
The threads and their cursors live as long as the runner: one transform run.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType

import duckdb
import pyarrow as pa

from transforms.route_sql import frames_relation, route_queries, rows_relation, sql_string
from transforms.routes import ROUTES, Route
from transforms.validate import LINEAGE

ROUTE_THREADS = 2  # routes queried at once, each on its own DuckDB cursor
FRAME_COLUMNS = [*LINEAGE, "seq", "received_at", "connection_id", "doc"]

RouteResult = tuple[Route, pa.Table, dict[str, pa.Table]]


class RouteRunner:
    """The rows of each route of batch after batch (use it as a context manager)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, threads: int | None = None) -> None:
        self._con = con
        self._zone = con.execute("SELECT current_setting('TimeZone')").fetchone()[0]
        self._pool = ThreadPoolExecutor(max_workers=threads or ROUTE_THREADS,
                                        thread_name_prefix="transform-route")
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()

    def __enter__(self) -> RouteRunner:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for cursor in self._cursors:
            cursor.close()

    def run(self, frames_by_route: dict[str, pa.Table]) -> list[RouteResult]:
        """Each route's rows (without its child columns) and its child tables' rows, in
        the order of ``ROUTES``. ``frames_by_route``: each route's frames, with the
        columns ``FRAME_COLUMNS``."""
        names = [name for name in ROUTES if name in frames_by_route]
        return list(self._pool.map(lambda n: self._route(ROUTES[n], frames_by_route[n]),
                                   names))

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._con.cursor()
            cursor.execute(f"SET TimeZone = {sql_string(self._zone)}")  # a session setting
            with self._lock:
                self._cursors.append(cursor)
        return cursor

    def _route(self, route: Route, frames: pa.Table) -> RouteResult:
        cursor = self._cursor()
        queries = route_queries(route.name)
        rows = _query(cursor, queries.rows, frames_relation(route), frames)
        children = {}
        if route.children:
            source = rows.select([*LINEAGE, *route.children])
            children = {child: _query(cursor, sql, rows_relation(route), source)
                        for child, sql in queries.children.items()}
            rows = rows.drop_columns(list(route.children))
        return route, rows, children


def _query(cursor: duckdb.DuckDBPyConnection, sql: str, relation: str,
           table: pa.Table) -> pa.Table:
    """``sql`` run with ``table`` registered as ``relation``."""
    cursor.register(relation, table)
    try:
        return cursor.sql(sql).to_arrow_table()
    finally:
        cursor.unregister(relation)
