"""Build the marts (``transforms/marts/<mart>.sql``) around the newly loaded core data.

Each mart SQL file is one ``select`` that computes the mart's rows for a set of windows
held in temporary tables (``io_windows``, ``trip_windows``, ``message_windows``) or for the
rows loaded after a watermark. This module works out those windows from the rows loaded
since the last mart build (``_load_id``), deletes the mart rows inside them and inserts the
recomputed ones, all in one transaction. How a window is chosen so that the result does not
depend on how the data was cut is explained in docs/warehouse.md ("Incremental builds").
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import duckdb

from warehouse.config import WarehouseConfig
from warehouse.database import connect, get_state, set_state

log = logging.getLogger(__name__)

MART_NAMES = (
    "io_changes", "trips", "stops", "vehicle_daily", "message_latency", "event_latency",
)

HAVERSINE_MACRO = """
create or replace temp macro haversine_m(lat1, lon1, lat2, lon2) as
    2 * 6371008.8 * asin(sqrt(
        pow(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * pow(sin(radians(lon2 - lon1) / 2), 2)
    ))
"""

WINDOW_TABLES = """
create or replace temp table io_windows (uid bigint, io integer, window_start timestamptz);
create or replace temp table trip_windows (vid bigint, window_start timestamptz,
                                           first_new_tmx timestamptz);
create or replace temp table message_windows (message_id varchar, guid varchar);
"""

IO_WINDOWS = """
insert into io_windows
select uid, io, min(tmx) from (
    select uid, io, tmx from core.record_io where _load_id > $since_load_id
    union all
    select uid, io, tmx from core.io_events where _load_id > $since_load_id
    union all
    select uid, io, tmx from core.io_snapshots where _load_id > $since_load_id
)
where uid is not null
group by uid, io
"""

# A vehicle's trips are recomputed from the arrival of its last trip whose stop had lasted
# min_stop_s before the first new record (or ignition change): nothing after can alter it.
# A vehicle with an open trip is also recomputed when the latest device time passes its
# last record by silent_after_s (the trip is then closed, signal_lost); a signal_lost trip
# is never an anchor, so new data for its vehicle recomputes it.
TRIP_WINDOWS = """
insert into trip_windows
with
new_records as (
    select vid, min(tmx) as first_new_tmx
    from core.records where _load_id > $since_load_id
    group by vid
),
-- the ignition history of a unit changes from its io window on (the new I/O rows and
-- io_changes, which is small, map units to vehicles)
new_ignition as (
    select c.vid, min(w.window_start) as first_new_tmx
    from io_windows as w
    join (
        select uid, vid from core.record_io where _load_id > $since_load_id
        union select uid, vid from core.io_events where _load_id > $since_load_id
        union select uid, vid from marts.io_changes where io = $ignition_io
    ) as c using (uid)
    where w.io = $ignition_io and c.vid is not null
    group by c.vid
),
open_trips as (
    select vid, min(start_time) as first_open_start from marts.trips where is_open group by vid
),
newly_silent as (
    select o.vid, o.first_open_start as first_new_tmx
    from open_trips as o
    join (
        select vid, max(tmx) as last_tmx from core.records
        where vid in (select vid from open_trips)
          and tmx >= (select min(first_open_start) from open_trips)
        group by vid
    ) as l using (vid)
    where epoch((select max(tmx) from core.records)) - epoch(l.last_tmx) > $silent_after_s
),
dirty_vehicles as (
    select vid, min(first_new_tmx) as first_new_tmx
    from (
        select * from new_records
        union all select * from new_ignition
        union all select * from newly_silent
    )
    group by vid
),
anchors as (
    select d.vid, d.first_new_tmx, max(t.end_time) as anchor_arrival
    from dirty_vehicles as d
    left join marts.trips as t
        on t.vid = d.vid
        and t.end_reason = 'arrival'
        and not t.is_open
        and not list_contains(t.flags, 'signal_lost')
        and epoch(t.end_time) + $min_stop_s <= epoch(d.first_new_tmx)
    group by d.vid, d.first_new_tmx
)
select vid, coalesce(anchor_arrival, '-infinity'::timestamptz), first_new_tmx from anchors
"""

MESSAGE_WINDOWS = """
insert into message_windows
with
new_ids as (
    select message_id from core.message_status where _load_id > $since_load_id
),
new_guids as (
    select guid from core.message_status where _load_id > $since_load_id and guid is not null
    union
    select command_id from core.commands
    where command = 'msg' and command_id is not null and _load_id > $since_load_id
)
select distinct message_id, guid from (
    select message_id, null as guid from new_ids
    union all
    select null, guid from new_guids
    union all
    select message_id, guid from core.message_status
    where txs = 0 and (guid in (select guid from new_guids)
                       or message_id in (select message_id from new_ids))
)
"""

DELETES = {
    "io_changes": """
        delete from marts.io_changes as c using io_windows as w
        where c.uid = w.uid and c.io = w.io and c.changed_at >= w.window_start
    """,
    "trips": """
        delete from marts.trips as t using trip_windows as w
        where t.vid = w.vid and t.start_time >= w.window_start
    """,
    "stops": """
        delete from marts.stops as s using trip_windows as w
        where s.vid = w.vid and s.start_time >= w.window_start
    """,
    "vehicle_daily": """
        delete from marts.vehicle_daily as d using trip_windows as w
        where d.vid = w.vid and d.day >= (w.window_start at time zone $timezone)::date
    """,
    "message_latency": """
        delete from marts.message_latency
        where message_id in (select message_id from message_windows)
           or guid in (select guid from message_windows)
    """,
    "event_latency": """
        delete from marts.event_latency as e using (
            select kind, source_id from ({event_latency_sql})
        ) as n
        where e.kind = n.kind and e.source_id = n.source_id
    """,
}

# the time column by which the checks find the rows this build may have changed
CHECK_SINCE = {
    "io_changes": "select min(window_start) from io_windows",
    "trips": "select min(window_start) from trip_windows",
    "stops": "select min(window_start) from trip_windows",
    "vehicle_daily": "select min(window_start) - interval 2 day from trip_windows",
    "message_latency": (
        "select min(received_at) from core.message_status where _load_id > $since_load_id"
    ),
    "event_latency": "select min(received_at) from ({event_latency_sql})",
}


@dataclass
class MartSummary:
    """What one mart build did."""

    load_id: int | None
    rows_written: dict[str, int] = field(default_factory=dict)
    vehicles_rebuilt: int = 0
    records_read: int = 0
    seconds: float = 0.0


def mart_sql(mart: str) -> str:
    """The text of ``transforms/marts/<mart>.sql``."""
    return files("transforms").joinpath("marts", f"{mart}.sql").read_text()


def _parameters(sql: str, config: WarehouseConfig, extra: dict[str, object]) -> dict[str, object]:
    """The named parameters ``sql`` refers to, from the config and ``extra``."""
    names = set(re.findall(r"\$([a-z_]+)", sql))
    values = {**config.sql_parameters(names), **{k: v for k, v in extra.items() if k in names}}
    missing = names - values.keys()
    if missing:
        raise KeyError(f"no value for SQL parameters {sorted(missing)}")
    return values


def _run(con: duckdb.DuckDBPyConnection, sql: str, config: WarehouseConfig,
         **extra: object) -> duckdb.DuckDBPyConnection:
    return con.execute(sql, _parameters(sql, config, extra))


MART_TABLES_SQL = files("warehouse").joinpath("mart_tables.sql").read_text()


def _prepare(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(HAVERSINE_MACRO)
    con.execute(WINDOW_TABLES)
    con.execute(MART_TABLES_SQL)


def _earliest(con: duckdb.DuckDBPyConnection, windows: str) -> datetime:
    """The earliest window start (a constant filter lets DuckDB skip old row groups)."""
    earliest = con.execute(f"select min(window_start) from {windows}").fetchone()[0]
    return earliest if earliest is not None else datetime.max.replace(tzinfo=UTC)


def _rebuild(con: duckdb.DuckDBPyConnection, mart: str, config: WarehouseConfig,
             since_load_id: int, bounds: dict[str, datetime]) -> int:
    sql = mart_sql(mart)
    delete = DELETES[mart].replace("{event_latency_sql}", sql)
    _run(con, delete, config, since_load_id=since_load_id, **bounds)
    inserted = _run(con, f"insert into marts.{mart} by name select * from ({sql})", config,
                    since_load_id=since_load_id, **bounds).fetchone()
    return int(inserted[0]) if inserted else 0


def _note_pending_checks(con: duckdb.DuckDBPyConnection, config: WarehouseConfig,
                         since_load_id: int) -> None:
    for mart, query in CHECK_SINCE.items():
        query = query.replace("{event_latency_sql}", mart_sql("event_latency"))
        since = _run(con, query, config, since_load_id=since_load_id).fetchone()[0]
        if since is None:
            continue
        con.execute(
            """
            insert into meta.pending_checks values (?, ?)
            on conflict do update set since = least(since, excluded.since)
            """,
            [mart, since],
        )


def build_marts_into(con: duckdb.DuckDBPyConnection,
                     config: WarehouseConfig | None = None) -> MartSummary:
    """Recompute the marts around every row loaded since the last mart build."""
    config = config or WarehouseConfig()
    started = time.perf_counter()
    since = get_state(con, "marts_load_id")
    current = int(con.execute("select coalesce(max(load_id), 0) from meta.loads").fetchone()[0])
    _prepare(con)
    if current <= since:
        log.info("marts: nothing new since load %d", since)
        return MartSummary(load_id=None)
    summary = MartSummary(load_id=current)
    con.execute("begin transaction")
    try:
        _run(con, IO_WINDOWS, config, since_load_id=since)
        _run(con, TRIP_WINDOWS, config, since_load_id=since)
        _run(con, MESSAGE_WINDOWS, config, since_load_id=since)
        bounds = {
            "earliest_window_start": _earliest(con, "trip_windows"),
            "earliest_io_window_start": _earliest(con, "io_windows"),
        }
        summary.vehicles_rebuilt = con.execute("select count(*) from trip_windows").fetchone()[0]
        summary.records_read = con.execute(
            "select count(*) from core.records as r join trip_windows as w "
            "on r.vid = w.vid and r.tmx >= w.window_start where r.tmx >= $earliest",
            {"earliest": bounds["earliest_window_start"]},
        ).fetchone()[0]
        _note_pending_checks(con, config, since)
        for mart in MART_NAMES:
            summary.rows_written[mart] = _rebuild(con, mart, config, since, bounds)
            log.info("marts: %s %d rows (re)built", mart, summary.rows_written[mart])
        set_state(con, "marts_load_id", current)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    summary.seconds = time.perf_counter() - started
    log.info("marts: rebuilt %d vehicles (%d records read) in %.2fs",
             summary.vehicles_rebuilt, summary.records_read, summary.seconds)
    return summary


def build_marts(data_dir: Path, config: WarehouseConfig | None = None) -> MartSummary:
    """Build the marts of the builder's database for the data loaded since the last build."""
    with connect(data_dir) as con:
        return build_marts_into(con, config)
