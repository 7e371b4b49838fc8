"""Run the routes' queries (``transforms.route_sql``) over a batch, routes in parallel.

Routes run ``ROUTE_THREADS`` at a time, each thread on its own DuckDB cursor (DuckDB
releases the GIL), since each query gets few DuckDB threads of its own
(``transforms.pipeline.query_threads``). A route with more than ``PIECE_FRAMES`` frames
(records: two thirds of a day's frames) runs in pieces of consecutive frames, so that the
threads share it instead of one thread running it while the other waits; the pieces'
rows are put back together in order. A route's query reads its frames from the
relation ``route_sql.frames_relation`` names; its child queries read its rows, under
``route_sql.rows_relation``. Each cursor prepares a query the first time it runs it and
then executes it batch after batch, over the Arrow table of the moment (``_Input``):
planning a route's query costs 10–140 ms of CPU, about 0.5 s per batch for all routes.
The threads, their cursors and the prepared queries live as long as the runner: one
transform run.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType

import duckdb
import pyarrow as pa

from transforms.route_sql import frames_relation, route_queries, rows_relation, sql_string
from transforms.routes import ROUTES, Route
from transforms.validate import LINEAGE

ROUTE_THREADS = 2  # routes queried at once, each on its own DuckDB cursor
PIECE_FRAMES = 65_536  # a route with more frames runs in pieces of at most this many
FRAME_COLUMNS = [*LINEAGE, "seq", "received_at", "connection_id", "doc"]

RouteResult = tuple[Route, pa.Table, dict[str, pa.Table]]


class RouteRunner:
    """The rows of each route of batch after batch (use it as a context manager)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, threads: int | None = None,
                 piece_frames: int = PIECE_FRAMES) -> None:
        self._con = con
        self._piece_frames = piece_frames
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
        pieces = [(ROUTES[name], piece) for name in ROUTES if name in frames_by_route
                  for piece in _pieces(frames_by_route[name], self._piece_frames)]
        return _joined(list(self._pool.map(lambda task: self._route(*task), pieces)))

    def _cursor(self) -> _Cursor:
        cursor: _Cursor | None = getattr(self._local, "cursor", None)
        if cursor is None:
            connection = self._con.cursor()
            connection.execute(f"SET TimeZone = {sql_string(self._zone)}")  # a session setting
            cursor = self._local.cursor = _Cursor(connection)
            with self._lock:
                self._cursors.append(connection)
        return cursor

    def _route(self, route: Route, frames: pa.Table) -> RouteResult:
        cursor = self._cursor()
        queries = route_queries(route.name)
        rows = cursor.run(queries.rows, frames_relation(route), frames)
        children = {}
        if route.children:
            source = rows.select([*LINEAGE, *route.children])
            children = {child: cursor.run(sql, rows_relation(route), source)
                        for child, sql in queries.children.items()}
            rows = rows.drop_columns(list(route.children))
        return route, rows, children


def _pieces(frames: pa.Table, most: int) -> list[pa.Table]:
    """``frames`` cut into the fewest consecutive slices of at most ``most`` rows, their
    sizes differing by one at most."""
    count = max(1, -(-frames.num_rows // most))
    bounds = [frames.num_rows * i // count for i in range(count + 1)]
    return [frames.slice(start, end - start) for start, end in itertools.pairwise(bounds)]


def _joined(results: list[RouteResult]) -> list[RouteResult]:
    """The results of a route's pieces (consecutive, in order) joined into one."""
    joined: list[RouteResult] = []
    for route, group in itertools.groupby(results, key=lambda result: result[0]):
        parts = list(group)
        children = {name: pa.concat_tables([part[2][name] for part in parts])
                    for name in parts[0][2]}
        joined.append((route, pa.concat_tables([part[1] for part in parts]), children))
    return joined


class _Input:
    """What a prepared query reads under a relation's name: the Arrow table of the moment.

    DuckDB reads an object with ``__arrow_c_stream__`` anew at each execution, so a query
    is planned once per cursor and run over batch after batch.
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.table = schema.empty_table()

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.table.__arrow_c_stream__(requested_schema)


class _Cursor:
    """A DuckDB cursor and the queries it has prepared, each with its ``_Input``."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection
        self._prepared: dict[str, tuple[str, _Input]] = {}  # sql -> (statement, input)

    def run(self, sql: str, relation: str, table: pa.Table) -> pa.Table:
        """``sql`` run with ``table`` under the name ``relation``."""
        if sql not in self._prepared:
            source = _Input(table.schema)
            self._connection.register(relation, source)
            name = f"q{len(self._prepared)}"
            self._connection.execute(f"PREPARE {name} AS {sql}")
            self._prepared[sql] = (name, source)
        name, source = self._prepared[sql]
        source.table = table.cast(source.schema)
        try:
            return self._connection.execute(f"EXECUTE {name}").to_arrow_table()
        finally:
            source.table = source.schema.empty_table()  # the batch is not kept alive here

