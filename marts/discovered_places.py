"""marts.discovered_places: places nobody named, where several vehicles stop repeatedly."""

from __future__ import annotations

from marts.model import Mart, MartColumn, RowCheck, Scope, read_sql

MART = Mart(
    name="discovered_places",
    grain="grid cell of about place_cell_m metres where place_min_vehicles vehicles made "
          "place_min_visits closed stops of min_stop_s or more, outside every named place",
    columns=(
        MartColumn("name", "varchar", False, "'discovered:<lat>,<lon>' of the cell's centre",
                   unique=True),
        MartColumn("lat", "double", False, "the cell's centre", ge=-90, le=90),
        MartColumn("lon", "double", False, ge=-180, le=180),
        MartColumn("min_lat", "double", False, "the cell's bounds"),
        MartColumn("min_lon", "double", False),
        MartColumn("max_lat", "double", False),
        MartColumn("max_lon", "double", False),
        MartColumn("vehicles", "bigint", False, "vehicles that stopped there", ge=1),
        MartColumn("stops", "bigint", False, "closed stops of min_stop_s or more", ge=1),
        MartColumn("first_stop_at", "timestamptz", False),
        MartColumn("last_stop_at", "timestamptz", False),
    ),
    sql=read_sql(__file__),
    # a function of the stops of each cell: recomputed for the cells whose stops the build
    # changes (all of them when the named places change)
    scope=Scope(
        delete="""
            delete from marts.discovered_places
            where exists (select 1 from core.place_imports where _load_id > $since_load_id)
               or name in (select name from cell_windows)
        """,
        touched_since="""
            select case when exists (select 1 from trip_windows)
                or exists (select 1 from core.place_imports where _load_id > $since_load_id)
                then '-infinity'::timestamptz end
        """,
        touched_rows="true",
        windows="cell_windows",
    ),
    reads=("marts.stops", "core.places", "core.place_imports"),
    row_checks=(
        RowCheck("centre_inside_cell", "lat between min_lat and max_lat "
                 "and lon between min_lon and max_lon"),
        RowCheck("stops_from_enough_vehicles", "stops >= vehicles"),
    ),
)
