"""marts.place_visits: one row per visit of a vehicle to a place (named or discovered)."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Reconciliation, RowCheck, Scope, read_sql

MART = Mart(
    name="place_visits",
    grain="stop of a vehicle inside a named or discovered place",
    columns=(
        MartColumn("vid", "bigint", False),
        MartColumn("place", "varchar", False, "core.places.name, or a discovered place's "
                   "'discovered:<lat>,<lon>'"),
        MartColumn("kind", "varchar", False, "named (imported) or discovered",
                   isin=("named", "discovered")),
        MartColumn("arrived_at", "timestamptz", False, "the stop's start"),
        MartColumn("left_at", "timestamptz", description="the stop's end; NULL while the "
                   "vehicle is still there (is_open)"),
        MartColumn("dwell_s", "double", False, "left_at - arrived_at; while open, up to the "
                   "vehicle's last record", ge=0),
        MartColumn("trip_id_in", "varchar", description="the trip that ended at the "
                   "arrival (NULL for the stop before the vehicle's first trip)", length=32),
        MartColumn("trip_id_out", "varchar", description="the trip that started when it "
                   "left (NULL while open)", length=32),
        MartColumn("lat", "double", False, "the stop's position", ge=-90, le=90),
        MartColumn("lon", "double", False, ge=-180, le=180),
        MartColumn("is_open", "boolean", False, "the vehicle is there now"),
        MartColumn("flags", "varchar[]", False, "the stop's: first (before the vehicle's "
                   "first trip), open"),
    ),
    sql=read_sql(__file__),
    sorted_by="arrived_at",
    # the visits of the stops in the trip windows, and of the stops in the cells that became
    # or stopped being a discovered place; all visits when the named places change
    scope=Scope(
        delete="""
            delete from marts.place_visits as v
            using (
                select vid, arrived_at from marts.place_visits where $places_changed
                union
                select p.vid, p.arrived_at from marts.place_visits as p
                semi join trip_windows as w
                    on w.vid = p.vid and p.arrived_at >= w.window_start
                where not $places_changed and p.arrived_at >= $earliest_window_start
                union
                select p.vid, p.arrived_at from marts.place_visits as p
                semi join (
                    select cell_row, cell_column from cell_windows
                    where was_discovered <> (name in (select name from marts.discovered_places))
                ) as c
                    on c.cell_row = place_cell_row(p.lat, $place_cell_m)
                    and c.cell_column = place_cell_column(p.lat, p.lon, $place_cell_m)
                where not $places_changed
            ) as k
            where v.vid = k.vid and v.arrived_at = k.arrived_at
        """,
        # the stops the build re-derives start at their trip window; a visit recomputed
        # only because its cell became (or stopped being) a discovered place keeps its stop
        touched_since="""
            select case
                when exists (select 1 from core.place_imports where _load_id > $since_load_id)
                then '-infinity'::timestamptz
                else (select min(window_start) from trip_windows)
            end
        """,
        touched_rows="arrived_at >= $since",
        windows="cell_windows",
    ),
    reads=("marts.stops", "marts.trips", "marts.discovered_places", "core.places"),
    row_checks=(
        RowCheck("left_after_arrival", "left_at is null or left_at >= arrived_at"),
        RowCheck("open_has_no_departure", "(left_at is null) = is_open"),
        RowCheck("open_flag_matches", "array_contains(flags, 'open') = is_open"),
    ),
    reconciliations=(
        Reconciliation("one visit per stop", """
            select vid, arrived_at, count(*) as visits from marts.place_visits
            where arrived_at >= $since
            group by vid, arrived_at having count(*) > 1
        """),
        Reconciliation("every visit is a stop", """
            select v.vid, v.arrived_at from marts.place_visits as v
            anti join marts.stops as s on s.vid = v.vid and s.start_time = v.arrived_at
            where v.arrived_at >= $since
        """),
    ),
)
