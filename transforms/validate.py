"""Validate the rows of a batch with the pandera models and name every failing frame.

Each table of a batch is validated as one eager polars frame (pandera then checks the
data, not only the schema) with ``lazy=True``, so every failing row of every check is
reported at once. A row that fails makes its whole frame fail: the frame is quarantined
with stage ``validate:<table>`` and pandera's failure cases as the reason, and none of
its rows load anywhere (a frame lands in exactly one place).
"""

from __future__ import annotations

from functools import cache

import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaErrors

from schemas.core_models import core_model

LINEAGE = ["_file", "_row"]
TYPE_ERRORS = "_type_errors"


@cache
def _model(table: str, with_type_errors: bool) -> pa.DataFrameSchema:
    model = core_model(table)
    if not with_type_errors:
        return model
    # The route query lists fields whose JSON value has the wrong type; any such
    # message is a failure whose text is the reason.
    check = pa.Check(lambda data: data.lazyframe.select(pl.col(data.key).is_null()),
                     name="value_types")
    return model.add_columns({TYPE_ERRORS: pa.Column(pl.String, check, nullable=True)})


def _reason(table: str, column: str, check: str, failure: str | None) -> str:
    if column == TYPE_ERRORS:
        return str(failure)
    if check == "not_nullable":
        return f"{table}.{column} is missing"
    return f"{table}.{column} = {failure} fails {check}"


def validate_table(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """The frames of ``df`` that fail ``table``'s model: ``_file``, ``_row``, ``reason``.

    ``df`` holds the table's columns plus the lineage columns (and ``_type_errors`` for
    a primary table). Raises ``RuntimeError`` on a schema-level failure (a wrong column
    type is a bug of the transforms, not bad data).
    """
    empty = pl.DataFrame(schema={"_file": pl.Int32, "_row": pl.Int64, "reason": pl.String})
    if df.height == 0:
        return empty
    model = _model(table, TYPE_ERRORS in df.columns)
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
            model.validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return empty
    if cases.get_column("index").null_count():
        schema_level = cases.filter(pl.col("index").is_null()).row(0, named=True)
        raise RuntimeError(
            f"core.{table}: schema check {schema_level['check']} failed on column "
            f"{schema_level['column']}: {schema_level['failure_case']}"
        )
    lineage = df.select(LINEAGE).with_row_index("index")
    reasons = [
        _reason(table, column, check, failure)
        for column, check, failure in cases.select("column", "check", "failure_case").iter_rows()
    ]
    return (
        cases.select(pl.col("index").cast(pl.UInt32))
        .with_columns(reason=pl.Series(reasons, dtype=pl.String))
        .join(lineage, on="index", how="left")
        .group_by(LINEAGE, maintain_order=True)
        .agg(pl.col("reason").unique(maintain_order=True).str.join("; "))
        .select(pl.col("_file").cast(pl.Int32), pl.col("_row").cast(pl.Int64), "reason")
    )
