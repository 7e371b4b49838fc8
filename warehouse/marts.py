"""Build the marts declared in ``marts/`` around the newly loaded core data.

Each mart's SQL is one ``select`` that computes its rows for a set of windows held in
temporary tables (``io_windows``, ``trip_windows``, ``message_windows``: the scopes marts
name) or for the rows loaded after a watermark. This module works out those windows from
the rows loaded since the last mart build (``_load_id``), and for each mart, in the order
of what they read (``marts.build_order``), deletes its rows in scope and inserts the
recomputed ones, inside the build's transaction (``warehouse.build``); ``meta.builds``
records the settings used. How a
window is chosen so that the result does not depend on how the data was cut is explained
in docs/warehouse.md ("Incremental builds").
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import duckdb

from marts import MARTS, Mart, build_order
from warehouse.config import WarehouseConfig
from warehouse.database import get_state, set_state

log = logging.getLogger(__name__)

WINDOW_TABLES_DDL = """
create or replace temp table io_windows (uid bigint, io integer, window_start timestamptz);
create or replace temp table trip_windows (vid bigint, window_start timestamptz,
                                           first_new_tmx timestamptz);
create or replace temp table message_windows (message_id varchar, guid varchar);
create or replace temp table cell_windows (name varchar, cell_row bigint, cell_column bigint,
                                           was_discovered boolean);
"""

IO_READINGS = """
select uid, vid, io, tmx, value from core.record_io
where _load_id > $since_load_id and value is not null
union all
select uid, vid, io, tmx, level from core.io_events
where _load_id > $since_load_id and level is not null
union all
select uid, null, io, tmx, level from core.io_snapshots
where _load_id > $since_load_id and level is not null
"""
"""The readings of inputs loaded after ``$since_load_id``, from the three streams."""

IO_WINDOWS = f"""
insert into io_windows
select uid, io, min(tmx) from ({IO_READINGS})
where uid is not null
group by uid, io
"""

# meta.io_first_readings keeps the first reading of every input so that io_changes and
# io_state can start an input's history without scanning all of core. Every reading loaded
# since the table was last brought up to date is folded in (a new reading at the same time
# wins: it may replace a stored duplicate); an empty table is filled from all of core.
IO_FIRST_READINGS = f"""
create or replace temp table new_io_first_readings as
with
new_readings as (
    select
        uid, io,
        min(tmx) as first_seen,
        arg_min(value, tmx) as first_value,
        arg_min(vid, tmx) as first_vid,
        min(tmx) filter (where vid is not null) as first_known_vid_at,
        arg_min(vid, tmx) filter (where vid is not null) as first_known_vid
    from ({IO_READINGS})
    where uid is not null
    group by uid, io
),
merged as (
    select
        n.uid, n.io,
        o.first_seen is null or n.first_seen <= o.first_seen as first_is_new,
        o.first_known_vid_at is null or n.first_known_vid_at <= o.first_known_vid_at
            as known_vid_is_new,
        n.first_seen as n_first_seen, n.first_value as n_first_value,
        n.first_vid as n_first_vid, n.first_known_vid_at as n_known_at,
        n.first_known_vid as n_known_vid,
        o.first_seen as o_first_seen, o.first_value as o_first_value,
        o.first_vid as o_first_vid, o.first_known_vid_at as o_known_at,
        o.first_known_vid as o_known_vid
    from new_readings as n
    left join meta.io_first_readings as o using (uid, io)
)
select
    uid, io,
    if(first_is_new, n_first_seen, o_first_seen) as first_seen,
    if(first_is_new, n_first_value, o_first_value) as first_value,
    if(first_is_new, n_first_vid, o_first_vid) as first_vid,
    if(known_vid_is_new, n_known_at, o_known_at) as first_known_vid_at,
    if(known_vid_is_new, n_known_vid, o_known_vid) as first_known_vid
from merged
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
-- io_state, which is small, map units to vehicles)
new_ignition as (
    select c.vid, min(w.window_start) as first_new_tmx
    from io_windows as w
    join (
        select uid, vid from core.record_io where _load_id > $since_load_id
        union select uid, vid from core.io_events where _load_id > $since_load_id
        union select uid, vid from marts.io_state where io = $ignition_io
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
    union
    -- a close received later may turn an earlier message into 'rejected'
    select c.command_id from core.commands as c
    join core.connection_closes as x using (connection_id)
    where c.command = 'msg' and c.command_id is not null and x._load_id > $since_load_id
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

# The grid cells (place_cell) of the stops in the trip windows that can count toward a
# discovered place (closed, at least min_stop_s, in no named place): before the rebuild
# (the stops about to be replaced) and again after stops is rebuilt, before
# discovered_places (the new ones), with whether each cell was a discovered place. A cell
# whose countable stops the build leaves as they were keeps its row: a depot that is a
# named place is not recounted whenever a vehicle stops there.
CELL_WINDOWS = """
insert into cell_windows
select name, cell_row, cell_column, name in (select name from marts.discovered_places) from (
    select distinct
        place_cell(s.lat, s.lon, $place_cell_m) as name,
        place_cell_row(s.lat, $place_cell_m) as cell_row,
        place_cell_column(s.lat, s.lon, $place_cell_m) as cell_column
    from (
        select s.lat, s.lon
        from marts.stops as s
        join trip_windows as w on s.vid = w.vid and s.start_time >= w.window_start
        where s.start_time >= $earliest_window_start and s.lat is not null
          and s.lon is not null and not s.is_open and s.duration_s >= $min_stop_s
    ) as s
    anti join core.places as p
        on s.lat between p.min_lat and p.max_lat and s.lon between p.min_lon and p.max_lon
        and in_place(s.lat, s.lon, p.lat, p.lon, p.radius_m, p.edges)
) as c
where name not in (select name from cell_windows)
"""


@dataclass
class MartSummary:
    """What one mart build did."""

    load_id: int | None
    rows_written: dict[str, int] = field(default_factory=dict)
    vehicles_rebuilt: int = 0
    records_read: int = 0
    seconds: float = 0.0


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


def prepare(con: duckdb.DuckDBPyConnection, marts: Iterable[Mart]) -> None:
    """Create the window tables, and the tables of ``marts`` that do not exist yet (with
    their comments)."""
    con.execute(WINDOW_TABLES_DDL)
    existing = {row[0] for row in con.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema = 'marts'").fetchall()}
    for mart in marts:
        if mart.name not in existing:
            con.execute(mart.ddl())
            for comment in mart.comments():
                con.execute(comment)
        _sort_files_of(con, mart)


def _sort_files_of(con: duckdb.DuckDBPyConnection, mart: Mart) -> None:
    """Declare the mart's sort order to DuckLake, once per declared order: the files
    written from then on are sorted (older files keep their order until rewritten)."""
    if mart.sorted_by is None:
        return
    version = int.from_bytes(hashlib.sha256(mart.sorted_by.encode()).digest()[:7], "big")
    name = f"sorted_by:{mart.name}"
    if get_state(con, name) != version:
        con.execute(f"alter table {mart.table} set sorted by ({mart.sorted_by})")
        set_state(con, name, version)


def _earliest(con: duckdb.DuckDBPyConnection, windows: str) -> datetime:
    """The earliest window start (a constant filter lets DuckDB skip old row groups)."""
    earliest = con.execute(f"select min(window_start) from {windows}").fetchone()[0]
    return earliest if earliest is not None else datetime.max.replace(tzinfo=UTC)


def _rebuild(con: duckdb.DuckDBPyConnection, mart: Mart, config: WarehouseConfig,
             since_load_id: int, bounds: dict[str, datetime]) -> tuple[int, datetime | None]:
    """Delete the mart's rows in scope and insert the recomputed ones; the rows written and
    the earliest time the build touched (None: nothing). A mart without windows projects
    the new core rows: its select runs once."""
    rows = mart.sql
    if mart.scope.windows is None:
        _run(con, f"create or replace temp table mart_rows as {mart.sql}", config,
             since_load_id=since_load_id, **bounds)
        rows = "select * from mart_rows"
    touched = mart.scope.touched_since.replace("{sql}", rows)
    since = _run(con, touched, config, since_load_id=since_load_id).fetchone()[0]
    delete = mart.scope.delete.replace("{sql}", rows)
    _run(con, delete, config, since_load_id=since_load_id, **bounds,
         touched_since=since if since is not None else datetime.max.replace(tzinfo=UTC))
    inserted = _run(con, f"insert into {mart.table} by name select * from ({rows})",
                    config, since_load_id=since_load_id, **bounds).fetchone()
    return (int(inserted[0]) if inserted else 0), since


def _note_pending_checks(con: duckdb.DuckDBPyConnection,
                         touched: dict[str, datetime | None]) -> None:
    """Add the earliest time the build touched in each mart (None: nothing) to
    ``meta.pending_checks``, kept with the earlier times of builds whose checks have not
    passed yet."""
    touched = {mart: since for mart, since in touched.items() if since is not None}
    if not touched:
        return
    pending = dict(con.execute("select mart, since from meta.pending_checks").fetchall())
    merged = {mart: min(since, pending[mart]) if mart in pending else since
              for mart, since in touched.items()}
    con.execute("delete from meta.pending_checks where list_contains(?, mart)",
                [list(merged)])
    con.execute("insert into meta.pending_checks select unnest(?), unnest(?)",
                [list(merged), list(merged.values())])


def _update_io_first_readings(con: duckdb.DuckDBPyConnection, current: int) -> None:
    """Fold the readings loaded since the table's own watermark into meta.io_first_readings
    (a first reading does not depend on the settings: a full rebuild keeps it)."""
    since = get_state(con, "io_first_readings_load_id")
    if since < current:
        con.execute(IO_FIRST_READINGS, {"since_load_id": since})
        con.execute("delete from meta.io_first_readings as r using new_io_first_readings as n "
                    "where r.uid = n.uid and r.io = n.io")
        con.execute("insert into meta.io_first_readings by name "
                    "select * from new_io_first_readings")
        set_state(con, "io_first_readings_load_id", current)


def _settings_changed(con: duckdb.DuckDBPyConnection, config: WarehouseConfig) -> str:
    """The settings that differ from the last build's (``''`` when none or no build yet):
    rows made under other rules must be rebuilt, or the marts would mix two rule sets."""
    row = con.execute(
        "select settings from meta.builds order by build_id desc limit 1").fetchone()
    if row is None:
        return ""
    before, now = json.loads(row[0]), asdict(config)
    return ", ".join(f"{key} {before.get(key)!r} → {value!r}"
                     for key, value in sorted(now.items()) if before.get(key) != value)


def _record_build(con: duckdb.DuckDBPyConnection, build_id: int,
                  config: WarehouseConfig) -> None:
    """Store the settings the rebuilt rows follow (``meta.builds``, one row per build)."""
    con.execute("delete from meta.builds where build_id = ?", [build_id])
    con.execute(
        "insert into meta.builds values (?, ?, ?)",
        [build_id, datetime.now(UTC), json.dumps(asdict(config), sort_keys=True)],
    )


def build_marts_into(con: duckdb.DuckDBPyConnection,
                     config: WarehouseConfig | None = None,
                     marts: Mapping[str, Mart] | None = None) -> MartSummary:
    """Recompute ``marts`` (default: every declared mart) around the rows loaded since the
    last mart build, each after the marts it reads (inside the caller's transaction)."""
    config = config or WarehouseConfig()
    ordered = build_order(MARTS if marts is None else marts)
    started = time.perf_counter()
    since = get_state(con, "marts_load_id")
    current = int(con.execute("select coalesce(max(load_id), 0) from meta.loads").fetchone()[0])
    prepare(con, ordered)
    changed = _settings_changed(con, config)
    if changed:
        log.warning("marts: the settings changed since the last build (%s): rebuilding "
                    "every mart from all of core", changed)
        since = 0
    if current <= since:
        log.info("marts: nothing new since load %d", since)
        return MartSummary(load_id=None)
    summary = MartSummary(load_id=current)
    if changed:
        for mart in ordered:
            con.execute(f"delete from {mart.table}")
    _update_io_first_readings(con, current)
    _run(con, IO_WINDOWS, config, since_load_id=since)
    _run(con, TRIP_WINDOWS, config, since_load_id=since)
    _run(con, MESSAGE_WINDOWS, config, since_load_id=since)
    bounds = {
        "earliest_window_start": _earliest(con, "trip_windows"),
        "earliest_io_window_start": _earliest(con, "io_windows"),
        "places_changed": con.execute(
            "select exists (select 1 from core.place_imports where _load_id > ?)",
            [since]).fetchone()[0],
    }
    summary.vehicles_rebuilt = con.execute("select count(*) from trip_windows").fetchone()[0]
    summary.records_read = con.execute(
        "select count(*) from core.records as r join trip_windows as w "
        "on r.vid = w.vid and r.tmx >= w.window_start where r.tmx >= $earliest",
        {"earliest": bounds["earliest_window_start"]},
    ).fetchone()[0]
    uses_cells = any(mart.scope.windows == "cell_windows" for mart in ordered)
    if uses_cells:  # the place marts: the cells of the stops about to be replaced
        _run(con, CELL_WINDOWS, config, **bounds)
    cells_after_stops = False
    touched: dict[str, datetime | None] = {}
    for mart in ordered:
        if mart.scope.windows == "cell_windows" and not cells_after_stops:
            _run(con, CELL_WINDOWS, config, **bounds)
            cells_after_stops = True
        summary.rows_written[mart.name], touched[mart.name] = _rebuild(
            con, mart, config, since, bounds)
        log.info("marts: %s %d rows (re)built", mart.name, summary.rows_written[mart.name])
    _note_pending_checks(con, touched)
    _record_build(con, current, config)
    set_state(con, "marts_load_id", current)
    summary.seconds = time.perf_counter() - started
    log.info("marts: rebuilt %d vehicles (%d records read) in %.2fs",
             summary.vehicles_rebuilt, summary.records_read, summary.seconds)
    return summary
