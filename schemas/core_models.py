"""Pandera (polars) models of the core tables, derived from ``schemas.core_tables``.

The declaration in ``core_tables`` gives each column its type and nullability; this module
adds the value rules the data must obey (ranges, allowed values) and turns both into one
``pandera.polars.DataFrameSchema`` per table. The transforms validate every batch with
these models on eager polars frames, so pandera checks the data and not only the schema.

Models are not strict: the transforms carry lineage columns (``_file``, ``_row``) through
validation. Every check treats nulls of a nullable column as valid (nullability is checked
on its own).
"""

from __future__ import annotations

from functools import cache

import pandera.polars as pa
import polars as pl

from protocol.messages import MessageStatus
from schemas.core_tables import CORE_TABLES, CoreTable

POLARS_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "BIGINT": pl.Int64(),
    "INTEGER": pl.Int32(),
    "DOUBLE": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
}

STATUS_LABELS = tuple(s.label for s in MessageStatus)

# Value rules by column name: the same name means the same thing in every table.
_CHECKS_BY_NAME: dict[str, list[pa.Check]] = {
    "lat": [pa.Check.in_range(-90.0, 90.0)],
    "lon": [pa.Check.in_range(-180.0, 180.0)],
    "speed_kmh": [pa.Check.ge(0.0)],
    "heading": [pa.Check.in_range(0.0, 360.0)],
    "odometer": [pa.Check.ge(0)],
    "sat": [pa.Check.ge(0)],
    "fuel_level": [pa.Check.ge(0.0)],
    "engine_hours": [pa.Check.ge(0.0)],
    "rpm": [pa.Check.ge(0)],
    "batch_total": [pa.Check.ge(0)],
    "txs": [pa.Check.isin([s.value for s in MessageStatus])],
    "io": [pa.Check.ge(0)],
}

# Value rules of one column of one table.
_CHECKS_BY_TABLE: dict[tuple[str, str], list[pa.Check]] = {
    ("records", "source"): [pa.Check.isin(["records", "event"])],
    ("events", "sub_type"): [pa.Check.isin(["io", "event"])],
    ("connections", "kind"): [pa.Check.isin(["device", "driver_app"])],
    ("driver_messages", "kind"): [pa.Check.isin(["free", "predefined"])],
    ("message_status", "status"): [pa.Check.isin(list(STATUS_LABELS))],
    ("commands", "status"): [pa.Check.isin(["sent", "accepted", "rejected", "replied"])],
    ("command_replies", "reply_type"): [pa.Check.isin(["cmd-status", "cmd-parsed"])],
    ("quarantine", "stage"): [pa.Check.str_matches(r"^(raw|parse|route|validate:[a-z_]+)$")],
}


def column_checks(table: str, column: str) -> list[pa.Check]:
    """The value rules of ``table.column`` (possibly none)."""
    return [*_CHECKS_BY_NAME.get(column, []), *_CHECKS_BY_TABLE.get((table, column), [])]


def build_model(table: CoreTable) -> pa.DataFrameSchema:
    """A pandera polars schema of ``table``: declared types, nullability and value rules."""
    columns = {
        c.name: pa.Column(
            POLARS_TYPES[c.type],
            checks=column_checks(table.name, c.name),
            nullable=c.nullable,
            description=c.description or None,
        )
        for c in table.columns
    }
    return pa.DataFrameSchema(columns, name=f"core.{table.name}", strict=False, coerce=False)


@cache
def core_model(name: str) -> pa.DataFrameSchema:
    """The pandera schema of the core table ``name`` (e.g. ``"records"``)."""
    return build_model(CORE_TABLES[name])


def polars_schema(name: str) -> pl.Schema:
    """The polars schema of the core table ``name``, in declaration order."""
    return pl.Schema({c.name: POLARS_TYPES[c.type] for c in CORE_TABLES[name].columns})
