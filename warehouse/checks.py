"""Checks that must pass before a build is published (DESIGN.md: checked marts).

Two kinds, both over the rows the builds since the last successful check touched
(``meta.pending_checks``), so their cost follows the new data:

* the pandera models of ``schemas.mart_models`` (types, ranges, allowed values, row rules);
* reconciliation checks: SQL queries that return the offending rows (a trip's odometer
  distance equals its odometer delta, every message status of core is in the latency
  mart, every inbound event is in the event-latency mart, days add up to their trips and
  stops ...).

Any failure raises ``WarehouseCheckError`` naming each failed check, and the publish step
refuses to publish an unchecked build.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pandera.errors
import polars as pl

from lake.errors import TrackitError
from schemas.mart_models import MART_MODELS
from warehouse.config import WarehouseConfig
from warehouse.database import connect, get_state, set_state

log = logging.getLogger(__name__)

# the column by which the rows of a mart are scoped to `since`
MART_TIME_COLUMN = {
    "trips": "start_time",
    "stops": "start_time",
    "io_changes": "changed_at",
    "vehicle_daily": "day",
    "message_latency": "coalesce(sent_at, not_processed_at, processed_at, pending_at, "
                       "delivered_at, read_at, error_at)",
    "event_latency": "received_at",
}

RECONCILIATIONS: dict[str, tuple[str, str]] = {
    "trip distance equals odometer delta": ("trips", """
        select trip_id, distance_km, start_odometer_m, end_odometer_m
        from marts.trips
        where start_time >= $since
          and distance_source = 'odometer'
          and not list_contains(flags, 'odometer_reset')
          and abs(distance_km * 1000 - (end_odometer_m - start_odometer_m))
              > $odometer_tolerance_m
    """),
    "closed trips are at least min_trip_m long": ("trips", """
        select trip_id, distance_km from marts.trips
        where start_time >= $since and distance_km * 1000 < $min_trip_m - 0.001
    """),
    "trips of a vehicle do not overlap": ("trips", """
        select vid, start_time, previous_end_time from (
            select vid, start_time,
                   lag(end_time) over (partition by vid order by start_time) as previous_end_time
            from marts.trips
            where end_time >= $since
        )
        where start_time >= $since and start_time < previous_end_time
    """),
    "every message status in core is in message_latency": ("message_latency", """
        select s.message_id, s.status
        from core.message_status as s
        left join marts.message_latency as m using (message_id)
        where s.received_at >= $since
          and (m.message_id is null or case s.txs
                when 0 then m.not_processed_at when 1 then m.processed_at
                when 2 then m.error_at when 3 then m.pending_at
                when 4 then m.delivered_at when 5 then m.read_at end is null)
    """),
    "every inbound event, message and form is in event_latency": ("event_latency", """
        with expected as (
            select count(*) as n from (
                select received_at from core.events
                union all select received_at from core.driver_messages
                union all select received_at from core.forms
            ) where received_at >= $since
        ),
        present as (select count(*) as n from marts.event_latency where received_at >= $since)
        select e.n as expected, p.n as present from expected as e, present as p
        where e.n <> p.n
    """),
    "vehicle_daily distance adds up its trips": ("vehicle_daily", """
        with trip_days as (
            select vid, (start_time at time zone $timezone)::date as day,
                   sum(distance_km) as distance_km, count(*) as trips
            from marts.trips
            where start_time >= $since - interval 2 day
            group by all
        )
        select d.vid, d.day, d.distance_km, t.distance_km as trips_distance_km
        from marts.vehicle_daily as d
        left join trip_days as t using (vid, day)
        where d.day >= ($since at time zone $timezone)::date
          and (abs(d.distance_km - coalesce(t.distance_km, 0)) > 0.001
               or d.trips <> coalesce(t.trips, 0))
    """),
    "vehicle_daily idle adds up its trips and stops": ("vehicle_daily", """
        with parts as (
            select vid, (start_time at time zone $timezone)::date as day, idle_s
            from marts.trips where start_time >= $since - interval 2 day
            union all
            select vid, (start_time at time zone $timezone)::date as day, idle_s
            from marts.stops where start_time >= $since - interval 2 day
        ),
        part_days as (select vid, day, sum(idle_s) as idle_s from parts group by all)
        select d.vid, d.day, d.idle_s, p.idle_s as trips_and_stops_idle_s
        from marts.vehicle_daily as d
        left join part_days as p using (vid, day)
        where d.day >= ($since at time zone $timezone)::date
          and d.idle_s is not null
          and abs(d.idle_s - coalesce(p.idle_s, 0)) > 0.01
    """),
}


class WarehouseCheckError(TrackitError):
    """The built marts violate a model or a reconciliation: the build is not published."""


@dataclass
class CheckSummary:
    """What one check run did."""

    checked_load_id: int
    rows_validated: dict[str, int] = field(default_factory=dict)
    reconciliations: int = 0
    failures: list[str] = field(default_factory=list)


def _pending(con: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    return dict(con.execute("select mart, since from meta.pending_checks").fetchall())


def _validate_model(con: duckdb.DuckDBPyConnection, mart: str, since: datetime,
                    config: WarehouseConfig) -> tuple[int, str | None]:
    column = MART_TIME_COLUMN[mart]
    if mart == "vehicle_daily":
        where, params = f"{column} >= ($since at time zone $timezone)::date", {
            "since": since, "timezone": config.timezone}
    else:
        where, params = f"{column} >= $since", {"since": since}
    frame: pl.DataFrame = con.sql(
        f"select * from marts.{mart} where {where}", params=params
    ).pl()
    try:
        MART_MODELS[mart].validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        detail = "; ".join(
            f"{row['column']}: {row['check']}"
            for row in cases.select("column", "check").unique().head(5).iter_rows(named=True)
        )
        return frame.height, f"marts.{mart} model: {detail}"
    return frame.height, None


def _reconcile(con: duckdb.DuckDBPyConnection, name: str, sql: str, since: datetime,
               config: WarehouseConfig) -> str | None:
    params: dict[str, object] = {"since": since}
    params.update(config.sql_parameters({n for n in ("odometer_tolerance_m", "min_trip_m",
                                                      "timezone") if f"${n}" in sql}))
    rows = con.execute(sql, params).fetchmany(3)
    if rows:
        return f"{name}: e.g. {rows[0]}"
    return None


def check_warehouse_into(con: duckdb.DuckDBPyConnection,
                         config: WarehouseConfig | None = None) -> CheckSummary:
    """Validate the touched mart rows; raise ``WarehouseCheckError`` on any failure."""
    config = config or WarehouseConfig()
    marts_load_id = get_state(con, "marts_load_id")
    summary = CheckSummary(checked_load_id=marts_load_id)
    pending = _pending(con)
    for mart, since in pending.items():
        rows, failure = _validate_model(con, mart, since, config)
        summary.rows_validated[mart] = rows
        if failure:
            summary.failures.append(failure)
    for name, (mart, sql) in RECONCILIATIONS.items():
        if mart not in pending:
            continue
        summary.reconciliations += 1
        failure = _reconcile(con, name, sql, pending[mart], config)
        if failure:
            summary.failures.append(failure)
    if summary.failures:
        for failure in summary.failures:
            log.error("check failed: %s", failure)
        raise WarehouseCheckError(
            f"{len(summary.failures)} warehouse check(s) failed, not publishing: "
            + " | ".join(summary.failures)
        )
    con.execute("delete from meta.pending_checks")
    set_state(con, "checked_load_id", marts_load_id)
    log.info("checks: %d mart slices validated, %d reconciliations passed",
             len(summary.rows_validated), summary.reconciliations)
    return summary


def check_warehouse(data_dir: Path, config: WarehouseConfig | None = None) -> CheckSummary:
    """Run every check over what the builds since the last check touched."""
    with connect(data_dir) as con:
        return check_warehouse_into(con, config)
