"""First pass over a batch of raw files: read the frames and give each one its route.

pyarrow reads the raw Parquet files; one DuckDB query labels every frame with a route
(``records``, ``event:io``, ``out:api``, ...) from ``params.type`` / ``sub-type`` / the
outbound ``type``, or with a problem label:

* ``!binary``   a binary frame (``base64:`` payload), never JSON;
* ``!unparsed`` text that DuckDB's JSON parser rejects: it goes to ``transforms.repair``
  and, when recovered, is labelled again from the repaired text;
* ``!untyped``  JSON without a type (not an object, no ``params``, no ``params.type``);
* ``!null``     a row of the raw file with no ``frame``, ``received_at`` or ``seq`` (raw
  files written by another tool may have them): quarantined at stage ``raw``.

A close frame the server ended a connection with (raw ``in`` text ``close:<code> <reason>``,
see ``lake.raw_schema.CLOSE_PREFIX``) is labelled ``ws:close``; its ``doc`` is the JSON
object ``{"params": {"type": "ws:close", "code": <code>, "reason": <reason>}}`` that the
route of ``core.connection_closes`` reads (a code that is not a number is left out, so the
row fails validation and the frame is quarantined).

The result is an Arrow table (``_file``, ``_row``, ``received_at``, ``direction``,
``connection_id``, ``seq``, ``frame``, ``doc``, ``route``) where ``doc`` is the text the
routes parse: the frame itself, or its repaired text.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lake.errors import TrackitError
from lake.raw_schema import BINARY_PREFIX, CLOSE_PREFIX, RAW_SCHEMA
from transforms.repair import UnrecoverableFrame, repair_frame
from transforms.route_sql import sql_string
from transforms.routes import CLOSE_ROUTE

BINARY, UNPARSED, UNTYPED, NULLS = "!binary", "!unparsed", "!untyped", "!null"
# Raw columns without which a frame cannot be placed; the raw lake's writer never leaves
# them NULL, another tool's file may.
REQUIRED_RAW = ("frame", "received_at", "seq")

# Parsed once per frame; TRY turns a parse error into NULL (the frame is "!unparsed").
TYPES_SQL = "TRY(json_extract_string(doc, ['$.params.type', '$.params.sub-type', '$.type']))"

ROUTE_LABEL_SQL = f"""
CASE
    WHEN starts_with(doc, {sql_string(BINARY_PREFIX)}) THEN '{BINARY}'
    WHEN direction = 'in' AND starts_with(doc, {sql_string(CLOSE_PREFIX)}) THEN '{CLOSE_ROUTE}'
    WHEN _t IS NULL THEN '{UNPARSED}'
    WHEN direction = 'out' THEN coalesce('out:' || _t[3], '{UNTYPED}')
    WHEN _t[1] IS NULL THEN '{UNTYPED}'
    WHEN _t[1] = 'event' THEN 'event:' || coalesce(_t[2], '')
    ELSE _t[1]
END"""


def label_query(source: str, columns: str) -> str:
    """Select ``columns`` and the route label of each frame of ``source`` (has ``doc``)."""
    return (f"SELECT {columns}, {ROUTE_LABEL_SQL} AS route "
            f"FROM (SELECT *, {TYPES_SQL} AS _t FROM {source})")


UNTYPED_REASON_SQL = """
CASE
    WHEN json_type(doc) <> 'OBJECT' THEN 'JSON ' || lower(json_type(doc)) || ', not an object'
    WHEN direction = 'out' THEN 'outbound frame without "type"'
    WHEN json_type(doc, '$.params') IS NULL THEN 'no "params" object'
    WHEN json_type(doc, '$.params') <> 'OBJECT' THEN '"params" is not an object'
    ELSE '"params" has no "type"'
END"""


@dataclass
class ClassifiedBatch:
    """The frames of a batch with their routes, and what the first pass learned."""

    files: list[Path]
    frames: pa.Table
    early_reasons: dict[int, tuple[str, str]] = field(default_factory=dict)
    repaired: int = 0

    def indices(self, mask: pa.ChunkedArray | pa.Array) -> list[int]:
        return pc.indices_nonzero(mask).to_pylist()


# The raw columns as read: nullable, since another tool's raw file may hold NULLs.
_READ_SCHEMA = pa.schema([f.with_nullable(True) for f in RAW_SCHEMA])
_READERS = 2  # raw files decompressed in parallel (pyarrow releases the GIL)
_CHUNK = 32_768  # rows per Arrow record batch of the classified frames


def _read_raw_file(index: int, path: Path) -> pa.Table:
    """One raw file's frames with ``_file`` (its index in the batch) and ``_row``."""
    try:
        table = pq.read_table(path, columns=_READ_SCHEMA.names).cast(_READ_SCHEMA)
    except (OSError, pa.ArrowException) as exc:
        raise TrackitError(f"cannot read raw file {path}: {exc}") from None
    n = table.num_rows
    return table.add_column(0, "_file", pa.repeat(pa.scalar(index, pa.int32()), n)).add_column(
        1, "_row", pa.array(range(n), pa.int64()))


def read_batch(con: duckdb.DuckDBPyConnection, files: list[Path]) -> pa.Table:
    """Every frame of ``files`` with its route label (repairs not applied yet).

    The files are read by pyarrow (one Arrow chunk per file, which DuckDB scans in
    parallel); DuckDB only labels them, so the frames' text is never copied out of DuckDB.
    """
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        parts = list(pool.map(_read_raw_file, range(len(files)), files))
    table = pa.concat_tables(parts)
    raw = table.select(["direction", "frame"])  # noqa: F841 (DuckDB scans it)
    route = con.sql(label_query("(SELECT direction, frame AS doc FROM raw)", "doc")
                    ).select("route").to_arrow_table().column("route")
    # doc starts as the very same array as frame (no copy); repairs replace single values.
    return table.append_column("route", route).append_column("doc", table.column("frame"))


def unreadable_raw_files(files: list[Path], error: str) -> str:
    """A message naming the raw file that cannot be read (found by opening each footer)."""
    for path in files:
        try:
            pq.ParquetFile(path).metadata  # noqa: B018 - reading the footer is the check
        except (OSError, pa.ArrowException) as exc:
            return f"cannot read raw file {path}: {exc}"
    shown = ", ".join(str(f) for f in files[:3]) + (" ..." if len(files) > 3 else "")
    return f"cannot read raw files {shown}: {error}"


def _relabel(con: duckdb.DuckDBPyConnection, docs: list[str], directions: list[str]) -> list[str]:
    small = pa.table({"doc": docs, "direction": directions})  # noqa: F841 (DuckDB scans it)
    return [r[1] for r in con.sql(label_query("small", "doc")).fetchall()]


def _untyped_reasons(con: duckdb.DuckDBPyConnection, docs: list[str],
                     directions: list[str]) -> list[str]:
    small = pa.table({"doc": docs, "direction": directions})  # noqa: F841 (DuckDB scans it)
    return [r[0] for r in con.sql(f"SELECT {UNTYPED_REASON_SQL} FROM small").fetchall()]


def classify(con: duckdb.DuckDBPyConnection, files: list[Path]) -> ClassifiedBatch:
    """Read ``files``, label every frame, repair what is safely repairable.

    ``early_reasons`` maps the batch index of each frame that cannot be routed (binary,
    not JSON, no type) to its quarantine stage and reason.
    """
    table = read_batch(con, files)
    batch = ClassifiedBatch(files=files, frames=table)
    _set_aside_nulls(batch)
    route = batch.frames.column("route")
    closes = batch.indices(pc.equal(route, CLOSE_ROUTE))
    if closes:
        _close_documents(batch, closes)
    unparsed = batch.indices(pc.equal(route, UNPARSED))
    if unparsed:
        _repair(con, batch, unparsed)
        route = batch.frames.column("route")
    for i in batch.indices(pc.equal(route, BINARY)):
        batch.early_reasons[i] = ("parse", "binary frame (base64 payload), not JSON text")
    untyped = batch.indices(pc.equal(route, UNTYPED))
    if untyped:
        docs = batch.frames.column("doc").take(untyped).to_pylist()
        dirs = batch.frames.column("direction").take(untyped).to_pylist()
        for i, reason in zip(untyped, _untyped_reasons(con, docs, dirs), strict=True):
            batch.early_reasons[i] = ("route", reason)
    # DuckDB's scans of an Arrow table run one record batch per thread: cut the frames
    # into pieces of at most _CHUNK rows (zero-copy slices), so the routes use every core.
    batch.frames = pa.Table.from_batches(batch.frames.to_batches(max_chunksize=_CHUNK),
                                         batch.frames.schema)
    return batch


def close_document(frame: str) -> str:
    """The JSON document of a close frame's raw text ``close:<code>[ <reason>]``."""
    code_text, _, reason = frame[len(CLOSE_PREFIX):].partition(" ")
    params: dict[str, object] = {"type": CLOSE_ROUTE}
    if code_text.isascii() and code_text.isdigit() and len(code_text) <= 9:
        params["code"] = int(code_text)
    if reason:
        params["reason"] = reason
    return orjson.dumps({"params": params}).decode()


def _close_documents(batch: ClassifiedBatch, rows: list[int]) -> None:
    frames = batch.frames.column("frame").take(rows).to_pylist()
    docs = pa.array([close_document(text) for text in frames], pa.string())
    t = batch.frames
    doc = pc.replace_with_mask(t.column("doc").combine_chunks(),
                               _mask(t.num_rows, rows), docs)
    batch.frames = t.set_column(t.schema.get_field_index("doc"), "doc", doc)


def _set_aside_nulls(batch: ClassifiedBatch) -> None:
    """Label ``!null`` the rows missing a required raw column, with the reason."""
    t = batch.frames
    missing = [c for c in REQUIRED_RAW if t.column(c).null_count]
    if not missing:
        return
    reasons: dict[int, list[str]] = {}
    for column in missing:
        for i in batch.indices(pc.is_null(t.column(column))):
            reasons.setdefault(i, []).append(column)
    for i, columns in reasons.items():
        batch.early_reasons[i] = ("raw", "NULL " + ", ".join(columns))
    mask = _mask(t.num_rows, sorted(reasons))
    route = pc.if_else(mask, pa.scalar(NULLS), t.column("route").combine_chunks())
    batch.frames = t.set_column(t.schema.get_field_index("route"), "route", route)


def _repair(con: duckdb.DuckDBPyConnection, batch: ClassifiedBatch, rows: list[int]) -> None:
    frames = batch.frames.column("frame").take(rows).to_pylist()
    dirs = batch.frames.column("direction").take(rows).to_pylist()
    fixed_rows: list[int] = []
    fixed_docs: list[str] = []
    fixed_dirs: list[str] = []
    for i, text, direction in zip(rows, frames, dirs, strict=True):
        try:
            doc, _ = repair_frame(text)
        except UnrecoverableFrame as exc:
            batch.early_reasons[i] = ("parse", str(exc))
            continue
        fixed_rows.append(i)
        fixed_docs.append(doc)
        fixed_dirs.append(direction)
    if not fixed_rows:
        return
    labels = _relabel(con, fixed_docs, fixed_dirs)
    for i, label in zip(fixed_rows, labels, strict=True):
        if label == UNPARSED:
            batch.early_reasons[i] = ("parse", "not JSON: rejected by the JSON parser")
    mask = _mask(batch.frames.num_rows, fixed_rows)
    t = batch.frames
    doc = pc.replace_with_mask(t.column("doc").combine_chunks(), mask,
                               pa.array(fixed_docs, pa.string()))
    route = pc.replace_with_mask(t.column("route").combine_chunks(), mask,
                                 pa.array(labels, pa.string()))
    t = t.set_column(t.schema.get_field_index("doc"), "doc", doc)
    batch.frames = t.set_column(t.schema.get_field_index("route"), "route", route)
    batch.repaired = sum(1 for label in labels if label != UNPARSED)


def _mask(n: int, rows: list[int]) -> pa.Array:
    mask = [False] * n
    for i in rows:
        mask[i] = True
    return pa.array(mask, pa.bool_())
