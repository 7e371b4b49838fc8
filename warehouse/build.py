"""``build_warehouse``: one DuckLake transaction per build, checks included.

A build brings in the named places when ``trackit places import`` changed them, updates
the status of the commands sent, recomputes the marts around the rows the transform
stored since the last build, runs the checks, and commits all of it with the checks'
verdict (``meta.checks``) as one snapshot. Readers see the snapshot before the build or
after it, never a state between. A failed check rolls everything back and commits only
the failed verdict, so analysts keep the last good snapshot while the run fails.

The build writes under the warehouse's writer lock (``lake.ducklake.writing_warehouse``),
taking turns with the transform. DuckDB's errors an operator can act on (a full disk, a
damaged catalog or data file) become one-line ``TrackitError``s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files

import duckdb

from lake.ducklake import WarehouseData, layout_of, rollback, writing_warehouse
from lake.errors import TrackitError
from marts import Mart
from warehouse.checks import CheckSummary, WarehouseCheckError, check_warehouse_into
from warehouse.config import WarehouseConfig
from warehouse.database import ensure_schemas, get_state
from warehouse.errors import translated
from warehouse.marts import MartSummary, build_marts_into
from warehouse.places import replace_places, staged_places

log = logging.getLogger(__name__)

COMMAND_STATUS_SQL = files("warehouse").joinpath("command_status.sql").read_text()


@dataclass
class BuildSummary:
    """What a whole build did (printed by ``trackit build``, logged by the DAG)."""

    marts: MartSummary
    checks: CheckSummary | None
    seconds: float
    snapshot: int | None = None
    """The DuckLake snapshot the build committed (None: nothing new, nothing committed)."""
    places: int | None = None
    """How many named places the build brought in (None: the set did not change)."""
    data_interval: tuple[str, str] | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """A human-readable account, one fact per line."""
        out = []
        if self.data_interval:
            out.append(f"data interval: {self.data_interval[0]} → {self.data_interval[1]}")
        if self.places is not None:
            out.append(f"core.places: replaced by {self.places} places")
        if self.marts.load_id is None:
            out.append("marts: up to date")
        else:
            out.append(f"marts: built up to load {self.marts.load_id}: "
                       f"{self.marts.vehicles_rebuilt} vehicles rebuilt from "
                       f"{self.marts.records_read} records in {self.marts.seconds:.2f}s")
            for mart, rows in self.marts.rows_written.items():
                out.append(f"  marts.{mart}: {rows} rows (re)built")
        if self.checks is not None:
            validated = sum(self.checks.rows_validated.values())
            out.append(f"checks: passed ({validated} mart rows validated, "
                       f"{self.checks.reconciliations} reconciliations)")
        if self.snapshot is not None:
            out.append(f"committed snapshot {self.snapshot}")
        out.append(f"build took {self.seconds:.2f}s")
        return out


def _update_command_status(con: duckdb.DuckDBPyConnection, since_load_id: int) -> None:
    con.execute(
        f"""
        update core.commands as c
        set status = s.status, replied_at = s.replied_at
        from ({COMMAND_STATUS_SQL}) as s
        where c.uid = s.uid and c.command = s.command and c.sent_at = s.sent_at
          and (c.status is distinct from s.status or c.replied_at is distinct from s.replied_at)
        """,
        {"since_load_id": since_load_id},
    )


def _import_places(con: duckdb.DuckDBPyConnection, data_dir: WarehouseData) -> int | None:
    """Replace ``core.places`` when the imported set changed, as a load of its own (the
    marts that name places then recompute their history); the number of places."""
    rows = staged_places(con, data_dir)
    if rows is None:
        return None
    load_id = int(con.execute("select coalesce(max(load_id), 0) + 1 from meta.loads")
                  .fetchone()[0])
    count = replace_places(con, rows, load_id)
    con.execute("insert into meta.loads values (?, ?, 0, ?)", [load_id, datetime.now(UTC), count])
    log.info("build: core.places replaced by %d places (load %d)", count, load_id)
    return count


def _record_verdict(con: duckdb.DuckDBPyConnection, build_id: int,
                    checks: CheckSummary) -> None:
    con.execute("insert into meta.checks values (?, ?, ?, ?, ?, ?)", [
        build_id, datetime.now(UTC), not checks.failures,
        sum(checks.rows_validated.values()), checks.reconciliations, checks.failures])


def _latest_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("select id from current_snapshot()").fetchone()[0])


def build_in(con: duckdb.DuckDBPyConnection, data_dir: WarehouseData, config: WarehouseConfig,
             marts: Mapping[str, Mart] | None = None) -> BuildSummary:
    """One build on an open writer connection (see the module); commits or rolls back."""
    started = time.perf_counter()
    ensure_schemas(con)
    con.execute("begin transaction")
    try:
        places = _import_places(con, data_dir)
        _update_command_status(con, get_state(con, "marts_load_id"))
        built = build_marts_into(con, config, marts)
        if built.load_id is None and places is None:
            rollback(con)
            return BuildSummary(built, None, time.perf_counter() - started)
        checks = check_warehouse_into(con, config, marts)
        _record_verdict(con, built.load_id or 0, checks)
        con.execute("commit")
    except WarehouseCheckError as failure:
        rollback(con)
        if failure.summary is not None:
            con.execute("begin transaction")
            _record_verdict(con, get_state(con, "marts_load_id"), failure.summary)
            con.execute("commit")
        raise
    except BaseException:
        rollback(con)
        raise
    return BuildSummary(built, checks, time.perf_counter() - started,
                        snapshot=_latest_snapshot(con), places=places)


def build_warehouse(
    data_dir: WarehouseData,
    *,
    config: WarehouseConfig | None = None,
    data_interval: tuple[str, str] | None = None,
    marts: Mapping[str, Mart] | None = None,
) -> BuildSummary:
    """Recompute the marts around the newly transformed rows, check them and commit.

    ``marts``: the mart declarations to build (default: every declared mart).
    """
    layout = layout_of(data_dir)
    if not layout.root.is_dir():
        raise TrackitError(f"data directory {layout.root} does not exist")
    with translated(layout.root), writing_warehouse(layout) as con:
        summary = build_in(con, layout, config or WarehouseConfig(), marts)
    summary.data_interval = data_interval
    return summary
