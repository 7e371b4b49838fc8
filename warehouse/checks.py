"""Checks that must pass before a build commits.

Two kinds, both over the rows the builds since the last successful check touched
(``meta.pending_checks``), so their cost follows the new data:

* each mart's pandera schema, derived from its declaration (types, nullability, ranges,
  allowed values, row rules);
* each mart's reconciliations: SQL queries that return the offending rows (a trip's
  odometer distance equals its odometer delta, every message status of core is in the
  latency mart, days add up to their trips and stops ...).

They run inside the build's transaction, after the marts: any failure raises
``WarehouseCheckError`` naming each failed check, the build rolls back, and readers keep
the snapshot before it (``warehouse.build`` records the verdict in ``meta.checks``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pandera.errors
import polars as pl

from lake.errors import TrackitError
from marts import MARTS, Mart
from marts.model import Reconciliation
from warehouse.config import WarehouseConfig
from warehouse.database import get_state, set_state

log = logging.getLogger(__name__)


class WarehouseCheckError(TrackitError):
    """The built marts violate a model or a reconciliation: the build is rolled back."""

    def __init__(self, message: str, summary: CheckSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class CheckSummary:
    """What one check run did."""

    checked_load_id: int
    rows_validated: dict[str, int] = field(default_factory=dict)
    reconciliations: int = 0
    failures: list[str] = field(default_factory=list)


def _pending(con: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    return dict(con.execute("select mart, since from meta.pending_checks").fetchall())


def _validate_rows(con: duckdb.DuckDBPyConnection, mart: Mart, since: datetime,
                   config: WarehouseConfig) -> tuple[int, str | None]:
    where = mart.scope.touched_rows
    params = _parameters(where, since, config)
    frame: pl.DataFrame = con.sql(f"select * from {mart.table} where {where}",
                                  params=params).pl()
    try:
        mart.pandera_schema().validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        detail = "; ".join(
            f"{row['column']}: {row['check']}"
            for row in cases.select("column", "check").unique().head(5).iter_rows(named=True)
        )
        return frame.height, f"{mart.table} model: {detail}"
    return frame.height, None


def _reconcile(con: duckdb.DuckDBPyConnection, check: Reconciliation, since: datetime,
               config: WarehouseConfig) -> str | None:
    params = _parameters(check.sql, since, config)
    rows = con.execute(check.sql, params).fetchmany(3)
    if rows:
        return f"{check.name}: e.g. {rows[0]}"
    return None


def _parameters(sql: str, since: datetime, config: WarehouseConfig) -> dict[str, object]:
    """``$since`` and the config fields ``sql`` refers to (DuckDB rejects extras)."""
    names = set(re.findall(r"\$([a-z_]+)", sql))
    params = config.sql_parameters(names)
    if "since" in names:
        params["since"] = since
    return params


def check_warehouse_into(con: duckdb.DuckDBPyConnection,
                         config: WarehouseConfig | None = None,
                         marts: Mapping[str, Mart] | None = None) -> CheckSummary:
    """Validate the touched rows of ``marts`` (default: every declared mart); raise
    ``WarehouseCheckError`` on any failure."""
    config = config or WarehouseConfig()
    declared = MARTS if marts is None else marts
    marts_load_id = get_state(con, "marts_load_id")
    summary = CheckSummary(checked_load_id=marts_load_id)
    pending = _pending(con)
    unknown = sorted(pending.keys() - declared.keys())
    if unknown:
        raise WarehouseCheckError(
            f"the build has unchecked rows of undeclared mart(s) {', '.join(unknown)}: "
            "declare them in marts/"
        )
    for name, since in pending.items():
        mart = declared[name]
        rows, failure = _validate_rows(con, mart, since, config)
        summary.rows_validated[name] = rows
        if failure:
            summary.failures.append(failure)
        for check in mart.reconciliations:
            summary.reconciliations += 1
            failure = _reconcile(con, check, since, config)
            if failure:
                summary.failures.append(failure)
    if summary.failures:
        for failure in summary.failures:
            log.error("check failed: %s", failure)
        raise WarehouseCheckError(
            f"{len(summary.failures)} warehouse check(s) failed, the build was rolled back "
            "(readers keep the previous snapshot): " + " | ".join(summary.failures),
            summary,
        )
    con.execute("delete from meta.pending_checks")
    set_state(con, "checked_load_id", marts_load_id)
    log.info("checks: %d mart slices validated, %d reconciliations passed",
             len(summary.rows_validated), summary.reconciliations)
    return summary
