"""Read a batch of raw files and give each frame its route.

Reading labels every frame with a **guessed** route from its text alone, without parsing
it: the first ``"type": "..."`` (and, for events, ``"sub-type": "..."``) found by a regular
expression, or ``!binary`` for a ``base64:`` payload. The guess only decides which route's
query parses the frame; that query reads the real ``type`` fields in the same parse and
hands back every frame whose true label differs (see ``transforms.route_sql``).

Frames whose guess is not a route (no ``type`` found, control frames, unknown types) or
was wrong are labelled properly by ``classify_rows``, which parses them, with a route
label or a problem label:

* ``!binary``   a binary frame (``base64:`` payload), never JSON;
* ``!unparsed`` text that DuckDB's JSON parser rejects: it goes to ``transforms.repair``
  and, when recovered, is labelled again from the repaired text;
* ``!untyped``  JSON without a type (not an object, no ``params``, no ``params.type``).

The batch is an Arrow table (``_index``, ``_file``, ``_row``, ``received_at``,
``direction``, ``connection_id``, ``seq``, ``frame``, ``doc``, ``route``) where ``doc`` is
the text the routes parse: the frame itself, or its repaired text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from lake.raw_schema import BINARY_PREFIX
from trackit.errors import TrackitError
from transforms.repair import UnrecoverableFrame, repair_frame
from transforms.route_sql import UNPARSED, UNTYPED, sql_string

BINARY, GUESS_NONE = "!binary", "?"

# A guess, from the text only; the route query checks it (a string value holding
# '"type":"x"' before the real key can only make the guess wrong, never the label).
GUESS_SQL = f"""
CASE
    WHEN starts_with(frame, {sql_string(BINARY_PREFIX)}) THEN '{BINARY}'
    WHEN _g = '' THEN '{GUESS_NONE}'
    WHEN direction = 'out' THEN 'out:' || _g
    WHEN _g = 'event' THEN 'event:' || regexp_extract(frame, '"sub-type"\\s*:\\s*"([^"\\\\]*)"', 1)
    ELSE _g
END"""
# Record batches of this many rows let DuckDB scan the batch with all its threads.
_SCAN_ROWS = 16_384

_GUESS_TYPE = """regexp_extract(frame, '"type"\\s*:\\s*"([^"\\\\]*)"', 1)"""

# Parsed once per frame; TRY turns a parse error into NULL (the frame is "!unparsed").
TYPES_SQL = "TRY(json_extract_string(doc, ['$.params.type', '$.params.sub-type', '$.type']))"

ROUTE_LABEL_SQL = f"""
CASE
    WHEN starts_with(doc, {sql_string(BINARY_PREFIX)}) THEN '{BINARY}'
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


def read_batch(con: duckdb.DuckDBPyConnection, files: list[Path]) -> pa.Table:
    """Every frame of ``files`` with its guessed route label (nothing parsed yet)."""
    names = [str(f) for f in files]
    query = f"""
SELECT CAST(list_position($files, filename) - 1 AS INTEGER) AS _file,
    file_row_number AS _row, received_at, direction, connection_id, seq, frame,
    {GUESS_SQL} AS route
FROM (SELECT *, {_GUESS_TYPE} AS _g
      FROM read_parquet($files, filename = true, file_row_number = true))"""
    try:
        table = con.sql(query, params={"files": names}).to_arrow_table(batch_size=_SCAN_ROWS)
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        shown = ", ".join(f.name for f in files[:3])
        raise TrackitError(f"cannot read raw files {shown}: {str(exc).splitlines()[0]}") \
            from None
    # doc starts as the very same array as frame (no copy); repairs replace single values.
    table = table.append_column("doc", table.column("frame"))
    return table.add_column(0, "_index", pa.array(range(table.num_rows), pa.int64()))


def _relabel(con: duckdb.DuckDBPyConnection, docs: list[str], directions: list[str]) -> list[str]:
    small = pa.table({"doc": docs, "direction": directions})  # noqa: F841 (DuckDB scans it)
    return [r[1] for r in con.sql(label_query("small", "doc")).fetchall()]


def _untyped_reasons(con: duckdb.DuckDBPyConnection, docs: list[str],
                     directions: list[str]) -> list[str]:
    small = pa.table({"doc": docs, "direction": directions})  # noqa: F841 (DuckDB scans it)
    return [r[0] for r in con.sql(f"SELECT {UNTYPED_REASON_SQL} FROM small").fetchall()]


def classify_rows(con: duckdb.DuckDBPyConnection, batch: ClassifiedBatch,
                  rows: list[int]) -> None:
    """Label the frames at ``rows`` by parsing them, and repair what is safely repairable.

    Sets their ``route``; ``early_reasons`` gets the batch index of each frame that cannot
    be routed (binary, not JSON, no type) with its quarantine stage and reason.
    """
    docs = batch.frames.column("doc").take(rows).to_pylist()
    dirs = batch.frames.column("direction").take(rows).to_pylist()
    labels = _relabel(con, docs, dirs)
    _set(batch, rows, "route", labels)
    unparsed = [i for i, label in zip(rows, labels, strict=True) if label == UNPARSED]
    if unparsed:
        _repair(con, batch, unparsed)
    route = batch.frames.column("route").take(rows).to_pylist()
    untyped = []
    for i, label in zip(rows, route, strict=True):
        if label == BINARY:
            batch.early_reasons[i] = ("parse", "binary frame (base64 payload), not JSON text")
        elif label == UNTYPED:
            untyped.append(i)
    if untyped:
        docs = batch.frames.column("doc").take(untyped).to_pylist()
        dirs = batch.frames.column("direction").take(untyped).to_pylist()
        for i, reason in zip(untyped, _untyped_reasons(con, docs, dirs), strict=True):
            batch.early_reasons[i] = ("route", reason)


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
    _set(batch, fixed_rows, "doc", fixed_docs)
    _set(batch, fixed_rows, "route", labels)
    batch.repaired += sum(1 for label in labels if label != UNPARSED)


def _set(batch: ClassifiedBatch, rows: list[int], column: str, values: list[str]) -> None:
    """Replace the values of ``column`` at ``rows`` (ascending) of the batch."""
    t = batch.frames
    mask = _mask(t.num_rows, rows)
    replaced = pc.replace_with_mask(t.column(column).combine_chunks(), mask,
                                    pa.array(values, pa.string()))
    batch.frames = t.set_column(t.schema.get_field_index(column), column, replaced)


def _mask(n: int, rows: list[int]) -> pa.Array:
    mask = [False] * n
    for i in rows:
        mask[i] = True
    return pa.array(mask, pa.bool_())
