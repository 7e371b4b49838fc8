"""What a mart declaration is: its columns, SQL, recompute scope, reads and checks.

A ``Mart`` is pure data (no I/O but reading its SQL file): ``warehouse.marts`` runs it,
``warehouse.checks`` checks it and ``reports`` reads it. Its columns produce both the
``create table`` (``Mart.ddl``) and the pandera schema (``Mart.pandera_schema``), so the
two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandera.polars as pa
    import polars as pl

WINDOW_TABLES = ("io_windows", "trip_windows", "message_windows", "cell_windows")
"""The scopes a mart may recompute over: temporary tables ``warehouse.marts`` fills with
the (vehicle, input, message ...) windows the new data touches. ``None``: the new rows."""


@dataclass(frozen=True)
class MartColumn:
    """One column of a mart: its DuckDB type, nullability and the rules of a valid value."""

    name: str
    type: str
    """DuckDB type name: bigint, integer, double, varchar, varchar[], boolean, date,
    timestamptz."""
    nullable: bool = True
    description: str = ""
    isin: tuple[str, ...] | None = None
    ge: float | None = None
    le: float | None = None
    unique: bool = False
    length: int | None = None
    """Exact string length."""


@dataclass(frozen=True)
class RowCheck:
    """A rule every row must follow, e.g. ``end_time >= start_time``."""

    name: str
    rule: str
    """A boolean SQL expression over the row's columns, as polars' ``sql_expr`` reads it."""


@dataclass(frozen=True)
class Reconciliation:
    """A SQL check spanning rows or tables: a query returning the offending rows.

    ``$since`` is the earliest time touched since the last passed check; any
    ``WarehouseConfig`` field may be a parameter too (``$min_trip_m`` ...).
    """

    name: str
    sql: str


@dataclass(frozen=True)
class Scope:
    """Which rows of a mart a build recomputes, and which rows the checks then read.

    ``delete`` removes the rows about to be recomputed (``{sql}`` stands for the mart's own
    select); ``touched_since`` returns the earliest time the build may have changed, which
    ``delete`` may use as ``$touched_since`` (a constant bound lets DuckDB skip older
    files); both run in the build, beside the window tables. ``touched_rows`` is the
    ``where`` clause of the rows at or after that time (``$since``) the checks validate; the
    checks run later, when the window tables are gone.
    """

    delete: str
    touched_since: str
    touched_rows: str
    windows: str | None = None
    """The window table the SQL recomputes over (one of ``WINDOW_TABLES``), or ``None``."""


@dataclass(frozen=True)
class Mart:
    """One mart: table ``marts.<name>``, one row per ``grain``."""

    name: str
    grain: str
    columns: tuple[MartColumn, ...]
    sql: str
    """One ``select`` computing the rows of the scope (named parameters: ``$min_stop_s``)."""
    scope: Scope
    reads: tuple[str, ...]
    """Tables it reads, ``core.<table>``, ``marts.<mart>`` or the build's ``meta.<table>``
    (kept up to date before any mart); marts order the build."""
    row_checks: tuple[RowCheck, ...] = ()
    reconciliations: tuple[Reconciliation, ...] = ()
    sorted_by: str | None = None
    """The column its data files are written sorted by (DuckLake's ``set sorted by``),
    its time: a scan from a window's start then skips the files of older rows."""
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.scope.windows is not None and self.scope.windows not in WINDOW_TABLES:
            raise ValueError(f"mart {self.name}: unknown scope windows {self.scope.windows!r}"
                             f" (one of {', '.join(WINDOW_TABLES)})")
        for read in self.reads:
            if read.partition(".")[0] not in ("core", "marts", "meta"):
                raise ValueError(f"mart {self.name}: reads {read!r}, not core.*, marts.* "
                                 "or meta.*")

    @property
    def table(self) -> str:
        return f"marts.{self.name}"

    @property
    def marts_read(self) -> tuple[str, ...]:
        """The other marts it reads (its own table is state, not a dependency)."""
        return tuple(r.partition(".")[2] for r in self.reads
                     if r.startswith("marts.") and r != self.table)

    def ddl(self) -> str:
        """``create table if not exists marts.<name>`` from the columns."""
        body = ",\n    ".join(
            f"{c.name} {c.type}{'' if c.nullable else ' not null'}" for c in self.columns
        )
        return f"create table if not exists {self.table} (\n    {body}\n)"

    def comments(self) -> list[str]:
        """``comment on`` statements: the grain on the table, descriptions on columns."""
        grain = _sql_string(f"one row per {self.grain}")
        statements = [f"comment on table {self.table} is {grain}"]
        statements += [
            f"comment on column {self.table}.{c.name} is {_sql_string(c.description)}"
            for c in self.columns if c.description
        ]
        return statements

    def pandera_schema(self) -> pa.DataFrameSchema:
        """The pandera schema of a valid frame of rows (extra columns are allowed)."""
        import pandera.polars as pa

        columns = {
            c.name: pa.Column(_polars_type(c.type), checks=_column_checks(c),
                              nullable=c.nullable, unique=c.unique)
            for c in self.columns
        }
        checks = [_row_check(check) for check in self.row_checks]
        return pa.DataFrameSchema(columns, checks=checks, strict=False, coerce=False,
                                  name=self.name)


def read_sql(module_file: str) -> str:
    """The SQL file beside a mart's module (``marts/trips.py`` → ``marts/trips.sql``)."""
    return Path(module_file).with_suffix(".sql").read_text()


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _polars_type(duckdb_type: str) -> Any:
    import polars as pl

    types = {
        "bigint": pl.Int64, "integer": pl.Int32, "double": pl.Float64, "varchar": pl.Utf8,
        "boolean": pl.Boolean, "date": pl.Date,
        "timestamptz": pl.Datetime(time_unit="us", time_zone="UTC"),
    }
    if duckdb_type.endswith("[]"):
        return pl.List(_polars_type(duckdb_type[:-2]))
    try:
        return types[duckdb_type]
    except KeyError:
        raise ValueError(f"no polars type for DuckDB type {duckdb_type!r}") from None


def _column_checks(column: MartColumn) -> list[pa.Check]:
    import pandera.polars as pa

    checks = []
    if column.isin is not None:
        checks.append(pa.Check.isin(list(column.isin)))
    if column.ge is not None:
        checks.append(pa.Check.ge(column.ge))
    if column.le is not None:
        checks.append(pa.Check.le(column.le))
    if column.length is not None:
        checks.append(pa.Check.str_length(column.length, column.length))
    return checks


def _row_check(check: RowCheck) -> pa.Check:
    import pandera.polars as pa
    import polars as pl

    rule = pl.sql_expr(check.rule)

    def holds(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(rule)

    return pa.Check(holds, name=check.name)
