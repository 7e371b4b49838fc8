"""Transform one batch of raw files into core tables and quarantine rows (in memory).

Steps, all vectorised (DuckDB for JSON, polars for the rest):

1. ``classify.read_batch``: read the files, guess each frame's route from its text;
2. one DuckDB query per route guessed (``route_sql``) → Arrow → polars: one parse per
   frame; the frames it finds were guessed wrong, and those without a route guess, are
   labelled by parsing (``classify_rows``, which also repairs what is safe) and routed in
   a second, small round;
3. validate each table with its pandera model; a failing row quarantines its frame;
4. collapse duplicates: within each raw file, rows with the same key keep the first
   (first received; a records frame's row before an event's copy of the record);
5. count where every frame landed and check that the counts reconcile.

Nothing is written here: ``transforms.publish`` writes the result file by file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.core_tables import CORE_TABLES
from trackit.errors import TrackitError
from transforms.classify import (
    BINARY,
    GUESS_NONE,
    UNPARSED,
    UNTYPED,
    ClassifiedBatch,
    classify_rows,
    read_batch,
)
from transforms.route_sql import COLONS, PATH, PATHS, WHEN, route_query
from transforms.routes import CONTROL_ROUTES, PRIMARY_TABLES, ROUTES, Route
from transforms.validate import LINEAGE, TYPE_ERRORS, validate_table

_PROBLEM_LABELS = frozenset({BINARY, UNPARSED, UNTYPED, GUESS_NONE})
_RANK = {name: rank for rank, name in enumerate(ROUTES)}
_QUERIES = {name: route_query(route) for name, route in ROUTES.items()}


@dataclass
class BatchResult:
    """Rows of every table of a batch (with ``_file``), the quarantine, and the counts."""

    files: list[Path]
    tables: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    frames_in: int = 0
    frames_out: int = 0
    control: int = 0
    repaired: int = 0
    loaded: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    # Frames by the path their route query took (``route_sql.PATHS``).
    paths: Counter[str] = field(default_factory=Counter)

    @property
    def frames(self) -> int:
        return self.frames_in + self.frames_out

    @property
    def accounted(self) -> int:
        """Frames that landed somewhere: loaded, collapsed duplicate, quarantined, control."""
        primary_dups = sum(self.duplicates[t] for t in PRIMARY_TABLES)
        return self.loaded + primary_dups + sum(self.quarantined.values()) + self.control


def _split(route: Route, rows: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The route's query result as one frame per table (columns renamed, children exploded)."""
    parts: dict[str, pl.DataFrame] = {}
    for table in route.tables:
        cols = [pl.col(f"{table}.{c}").alias(c) for c in CORE_TABLES[table].column_names]
        extra = [pl.col(TYPE_ERRORS)] if table == route.primary else []
        part = rows
        if table in route.when:
            part = part.filter(pl.col(f"{table}.{WHEN}"))
        parts[table] = part.select(*LINEAGE, *cols, *extra)
    for child in route.children:
        exploded = rows.select(*LINEAGE, pl.col(child)).explode(child).drop_nulls(child)
        parts[child] = exploded.unnest(child)
    return parts


def _route_label_reason(label: str) -> tuple[str, str]:
    if label.startswith("out:"):
        return "unknown outbound command type", f"unknown outbound command type {label[4:]!r}"
    if label.startswith("event:"):
        return "unknown event sub-type", f"unknown event sub-type {label[6:]!r}"
    return "unknown params.type", f"unknown params.type {label!r}"


def _category(stage: str, reason: str) -> str:
    """A short name for counting quarantine reasons (the value-free part of a reason)."""
    if stage.startswith("validate:"):
        return stage
    if reason.startswith("not JSON"):
        return "not JSON"
    if reason.startswith("binary"):
        return "binary frame"
    return reason


def _early_quarantine(batch: ClassifiedBatch, present: set[str]) -> pl.DataFrame:
    """Frames rejected before any route ran: not JSON, binary, no type, unknown type."""
    rows: dict[int, tuple[str, str, str]] = {
        i: (stage, reason, _category(stage, reason))
        for i, (stage, reason) in batch.early_reasons.items()
    }
    unknown = sorted(present - set(ROUTES) - CONTROL_ROUTES - _PROBLEM_LABELS)
    if unknown:
        route = batch.frames.column("route")
        for label in unknown:
            category, reason = _route_label_reason(label)
            for i in batch.indices(pc.equal(route, label)):
                rows[i] = ("route", reason, category)
    order = sorted(rows)
    return pl.DataFrame(
        {
            "_index": order,
            "stage": [rows[i][0] for i in order],
            "reason": [rows[i][1] for i in order],
            "_category": [rows[i][2] for i in order],
        },
        schema={"_index": pl.Int64, "stage": pl.String, "reason": pl.String,
                "_category": pl.String},
    )


def _quarantine_rows(batch: ClassifiedBatch, early: pl.DataFrame,
                     invalid: pl.DataFrame) -> pl.DataFrame:
    """Quarantine rows (DESIGN's columns plus ``_file``/``_category``) for failed frames."""
    lineage = pl.from_arrow(batch.frames.select(["_file", "_row"])).with_row_index("_index")
    early = early.join(lineage.with_columns(pl.col("_index").cast(pl.Int64)), on="_index")
    failed = pl.concat(
        [early.select(*LINEAGE, "stage", "reason", "_category"),
         invalid.select(*LINEAGE, "stage", "reason", pl.col("stage").alias("_category"))],
        how="vertical_relaxed",
    ).sort(LINEAGE)
    if failed.height == 0:
        return failed.with_columns(
            received_at=pl.lit(None, pl.Datetime("us", "UTC")), seq=pl.lit(None, pl.Int64),
            connection_id=pl.lit(None, pl.String), frame=pl.lit(None, pl.String),
            raw_file=pl.lit(None, pl.String),
        )
    frames = pl.from_arrow(batch.frames.select(
        ["_file", "_row", "received_at", "seq", "connection_id", "frame"]))
    return failed.join(frames.with_columns(pl.col("_row").cast(pl.Int64)),
                       on=LINEAGE, how="left").with_columns(raw_file=pl.lit(None, pl.String))


def _colons(docs: pa.ChunkedArray) -> pa.Array:
    """How many ``":`` each text holds (see ``route_sql._fast``)."""
    counts = pl.Series(docs).str.count_matches('":', literal=True)
    return counts.cast(pl.Int64).to_arrow()


Parts = dict[str, list[tuple[int, pl.DataFrame]]]


def run_routes(con: duckdb.DuckDBPyConnection, frames: pa.Table, labels: set[str],
               parts: Parts, paths: Counter[str]) -> list[int]:
    """Run the query of every route in ``labels`` over ``frames``; add each table's rows
    to ``parts`` (with the route's rank) and count the path each frame took. Returns the
    batch indices of the frames whose parsed label is not the route they were labelled
    with (a wrong guess)."""
    wrong: list[int] = []
    con.register("batch", frames.append_column(COLONS, _colons(frames.column("doc"))))
    try:
        for name, route in ROUTES.items():
            if name not in labels:
                continue
            rows = pl.from_arrow(con.sql(_QUERIES[name]).to_arrow_table())
            right = pl.col("_label") == name
            wrong += rows.filter(~right).get_column("_index").to_list()
            rows = rows.filter(right)
            for index, n in rows.get_column(PATH).value_counts().iter_rows():
                paths[PATHS[index]] += n
            for table, part in _split(route, rows).items():
                parts.setdefault(table, []).append((_RANK[name], part))
    finally:
        con.unregister("batch")
    return wrong


def _concat(parts: list[tuple[int, pl.DataFrame]]) -> pl.DataFrame:
    # Route order (records before events), each route in file order: on a duplicate key
    # the row of a records frame wins over an event's record, and within a route the first
    # received wins. The order is fixed, so reruns give identical files.
    ranks = [rank for rank, _ in parts]
    if len(parts) == 1:
        return parts[0][1]
    if ranks == sorted(set(ranks)):  # one part per route, already in order
        return pl.concat([df for _, df in parts], how="diagonal")
    # Frames routed in the second round: merge them back into place.
    merged = pl.concat([df.with_columns(_rank=pl.lit(rank, pl.Int32)) for rank, df in parts],
                       how="diagonal")
    return merged.sort("_rank", *LINEAGE, maintain_order=True).drop("_rank")


def route_batch(con: duckdb.DuckDBPyConnection, batch: ClassifiedBatch,
                paths: Counter[str]) -> dict[str, pl.DataFrame]:
    """Every table's rows for the batch; sets each frame's final route label."""
    parts: Parts = {}
    guessed = set(pc.unique(batch.frames.column("route")).to_pylist())
    wrong = run_routes(con, batch.frames, guessed & set(ROUTES), parts, paths)
    unrouted = pc.invert(pc.is_in(batch.frames.column("route"), pa.array(list(ROUTES))))
    rest = sorted({*wrong, *batch.indices(unrouted)})
    if rest:
        classify_rows(con, batch, rest)
        frames = batch.frames.take(rest)
        labels = set(pc.unique(frames.column("route")).to_pylist()) & set(ROUTES)
        if run_routes(con, frames, labels, parts, paths):
            raise RuntimeError("a frame's route label differs between two parses")
    return {table: _concat(p) for table, p in parts.items()}


def process_batch(con: duckdb.DuckDBPyConnection, files: list[Path]) -> BatchResult:
    """Transform the raw ``files`` (one batch) into rows of the core tables."""
    batch = ClassifiedBatch(files=files, frames=read_batch(con, files))
    paths: Counter[str] = Counter()
    tables = route_batch(con, batch, paths)
    labels = pc.value_counts(batch.frames.column("route")).to_pylist()
    counts = {v["values"]: v["counts"] for v in labels}
    present = set(counts)
    direction_out = pc.sum(pc.equal(batch.frames.column("direction"), "out")).as_py() or 0
    failures = []
    for table, df in tables.items():
        bad = validate_table(table, df)
        if bad.height:
            failures.append(bad.with_columns(stage=pl.lit(f"validate:{table}")))
    invalid = (
        pl.concat(failures).sort(LINEAGE, maintain_order=True)
        .group_by(LINEAGE, maintain_order=True)
        .agg(pl.col("stage").first(), pl.col("reason").str.join("; "))
        if failures else
        pl.DataFrame(schema={"_file": pl.Int32, "_row": pl.Int64, "stage": pl.String,
                             "reason": pl.String})
    )
    quarantine = _quarantine_rows(batch, _early_quarantine(batch, present), invalid)

    result = BatchResult(files=files, tables={}, quarantine=quarantine,
                         frames_in=batch.frames.num_rows - direction_out,
                         frames_out=direction_out, repaired=batch.repaired, paths=paths)
    result.control = sum(counts.get(label, 0) for label in CONTROL_ROUTES)
    result.quarantined = Counter(quarantine.get_column("_category").to_list())
    bad_keys = invalid.select(pl.col("_file").cast(pl.Int32), pl.col("_row").cast(pl.Int64))
    for table, df in tables.items():
        df = df.drop(TYPE_ERRORS, strict=False)
        if bad_keys.height:
            df = df.join(bad_keys, on=LINEAGE, how="anti", maintain_order="left")
        keep = df.unique(subset=["_file", *CORE_TABLES[table].key], keep="first",
                         maintain_order=True)
        dropped = df.height - keep.height
        if table == "records":
            # Only records of records frames are primary; an event's record is a child row.
            is_primary = pl.col("source") == "records"
            dropped = df.filter(is_primary).height - keep.filter(is_primary).height
            result.duplicates["records"] = dropped
            result.duplicates["records (of events)"] = (
                df.height - keep.height - dropped)
            result.loaded += keep.filter(is_primary).height
        else:
            result.duplicates[table] = dropped
            if table in PRIMARY_TABLES:
                result.loaded += keep.height
        result.tables[table] = keep
    return result


def raw_frame_count(files: list[Path]) -> int:
    """Frames in ``files`` according to their Parquet footers (independent of the read)."""
    try:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    except (OSError, pa.ArrowException) as exc:
        raise TrackitError(f"cannot read raw files {file_names(files)}: {exc}") from None


def file_names(files: list[Path]) -> str:
    """A short list of file names for messages."""
    return ", ".join(f.name for f in files[:3]) + (" ..." if len(files) > 3 else "")


def quarantine_arrow(df: pl.DataFrame) -> pa.Table:
    """The quarantine rows in the declared column order and Arrow types."""
    schema = CORE_TABLES["quarantine"].arrow_schema
    return df.select(schema.names).to_arrow().cast(schema)
