"""Transform one batch of raw files into core tables and quarantine rows (in memory).

Steps, all vectorised (DuckDB for JSON, polars for the rest):

1. ``classify``: read the files, label each frame with its route, repair what is safe,
   set aside rows missing a required raw column (quarantined at stage ``raw``);
2. one DuckDB query per route present (``route_sql``, run by ``route_runner``) → Arrow
   → polars;
3. validate each table with its pandera model; a failing row quarantines its frame;
4. collapse duplicates: within each raw file, rows with the same key keep the first
   (first received; a records frame's row before an event's copy of the record);
5. count where every frame landed and check that the counts reconcile.

Nothing is written here: ``transforms.core_store`` stores the result.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lake.errors import TrackitError
from lake.layout import partition_date, partition_start
from schemas.core_tables import CORE_TABLES
from transforms.classify import (
    BINARY,
    NULLS,
    UNPARSED,
    UNTYPED,
    ClassifiedBatch,
    classify,
    unreadable_raw_files,
)
from transforms.raw_names import below_date
from transforms.route_runner import FRAME_COLUMNS, RouteRunner
from transforms.routes import CONTROL_ROUTES, PRIMARY_TABLES, ROUTES, Route
from transforms.validate import LINEAGE, TYPE_ERRORS, validate_table

_PROBLEM_LABELS = frozenset({BINARY, UNPARSED, UNTYPED, NULLS})


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

    @property
    def frames(self) -> int:
        return self.frames_in + self.frames_out

    @property
    def accounted(self) -> int:
        """Frames that landed somewhere: loaded, collapsed duplicate, quarantined, control."""
        primary_dups = sum(self.duplicates[t] for t in PRIMARY_TABLES)
        return self.loaded + primary_dups + sum(self.quarantined.values()) + self.control


def _split(route: Route, rows: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The route's rows as one frame per table (the table's STRUCT column unnested)."""
    parts: dict[str, pl.DataFrame] = {}
    for table in route.tables:
        extra = [pl.col(TYPE_ERRORS)] if table == route.primary else []
        part = rows
        if table in route.only_with:
            part = part.filter(pl.col(table).is_not_null())
        parts[table] = part.select(*LINEAGE, pl.col(table).struct.unnest(), *extra)
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
    """Quarantine rows (core.quarantine columns, ``_file``, ``_category``) of failed frames."""
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
    failed = failed.join(frames.with_columns(pl.col("_row").cast(pl.Int64)),
                         on=LINEAGE, how="left").with_columns(raw_file=pl.lit(None, pl.String))
    return _stand_ins(failed, batch.files)


def substitute_seq(raw_file: Path, row: int) -> int:
    """The quarantine ``seq`` of a raw frame that has none: negative (a real seq never is),
    unique to the raw file's date, path below it and row, and the same on every rerun."""
    name = f"{partition_date(raw_file)}/{'/'.join(below_date(raw_file))}#{row}".encode()
    return -(int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big") >> 2) - 1


def _stand_ins(failed: pl.DataFrame, files: list[Path]) -> pl.DataFrame:
    """Fill the NOT NULL quarantine columns a raw row lacked: ``seq`` by ``substitute_seq``,
    ``received_at`` by the start of the raw file's partition, ``frame`` by ''."""
    if not any(failed.get_column(c).null_count() for c in ("seq", "received_at", "frame")):
        return failed
    where = failed.select("_file", "_row").rows()
    seqs = pl.Series([substitute_seq(files[f], r) for f, r in where], dtype=pl.Int64)
    starts = pl.Series([partition_start(files[f]) for f, _ in where],
                       dtype=pl.Datetime("us", "UTC"))
    return failed.with_columns(
        seq=pl.col("seq").fill_null(seqs),
        received_at=pl.col("received_at").fill_null(starts),
        frame=pl.col("frame").fill_null(""),
    )


def run_routes(runner: RouteRunner, batch: ClassifiedBatch,
               present: set[str]) -> dict[str, list[pl.DataFrame]]:
    """The rows of every route present in the batch: parts of each table, in the order of
    ``ROUTES`` (the runner's threads may finish them in any order)."""
    labels = batch.frames.column("route")
    columns = batch.frames.select(FRAME_COLUMNS)  # filter only what the queries read
    frames = {name: columns.filter(pc.equal(labels, name))
              for name in ROUTES if name in present}
    parts: dict[str, list[pl.DataFrame]] = {}
    for route, rows, children in runner.run(frames):
        for table, part in _split(route, pl.from_arrow(rows)).items():
            parts.setdefault(table, []).append(part)
        for child, part in children.items():
            parts.setdefault(child, []).append(pl.from_arrow(part))
    return parts


def _concat(parts: list[pl.DataFrame]) -> pl.DataFrame:
    # Parts follow the order of ROUTES (records before events), each in file order: on a
    # duplicate key the row of a records frame wins over an event's record, and within a
    # route the first received wins. The order is fixed, so reruns give identical files.
    return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal")


@dataclass
class RoutedBatch:
    """A batch after the DuckDB steps (1 and 2): its frames and every table's rows."""

    batch: ClassifiedBatch
    counts: dict[str, int]
    tables: dict[str, pl.DataFrame]


def route_batch(con: duckdb.DuckDBPyConnection, runner: RouteRunner,
                files: list[Path]) -> RoutedBatch:
    """Steps 1 and 2 (DuckDB): classify the frames of ``files`` and run their routes."""
    batch = classify(con, files)
    counts = route_counts(batch)
    tables = {t: _concat(p) for t, p in run_routes(runner, batch, set(counts)).items()}
    return RoutedBatch(batch=batch, counts=counts, tables=tables)


def route_counts(batch: ClassifiedBatch) -> dict[str, int]:
    """Frames of each route label in the batch."""
    labels = pc.value_counts(batch.frames.column("route")).to_pylist()
    return {v["values"]: v["counts"] for v in labels}


def finish_batch(routed: RoutedBatch) -> BatchResult:
    """Steps 3 to 5 (polars, no DuckDB): validate, collapse duplicates, count.

    Runs in another thread than ``route_batch`` (the next batch's DuckDB work overlaps it).
    """
    batch, counts, tables = routed.batch, routed.counts, routed.tables
    files, present = batch.files, set(counts)
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
                         frames_out=direction_out, repaired=batch.repaired)
    result.control = sum(counts.get(label, 0) for label in CONTROL_ROUTES)
    result.quarantined = Counter(quarantine.get_column("_category").to_list())
    bad_keys = invalid.select(pl.col("_file").cast(pl.Int32), pl.col("_row").cast(pl.Int64))
    for table, df in tables.items():
        df = df.drop(TYPE_ERRORS, strict=False)
        if bad_keys.height:
            df = df.join(bad_keys, on=LINEAGE, how="anti", maintain_order="left")
        # The first row of each key in each raw file: the same rows, in the same order, as
        # unique(keep="first", maintain_order=True), three times faster (one hash pass).
        keep = df.filter(pl.struct("_file", *CORE_TABLES[table].key).is_first_distinct())
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
        raise TrackitError(unreadable_raw_files(files, str(exc))) from None


def file_names(files: list[Path]) -> str:
    """A short list of file names for messages."""
    return ", ".join(f.name for f in files[:3]) + (" ..." if len(files) > 3 else "")


def quarantine_arrow(df: pl.DataFrame) -> pa.Table:
    """The quarantine rows in the declared column order and Arrow types."""
    schema = CORE_TABLES["quarantine"].arrow_schema
    return df.select(schema.names).to_arrow().cast(schema)
