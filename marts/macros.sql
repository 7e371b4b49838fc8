-- SQL macros of the warehouse, stored in it: the marts use them, and so can analysts in a
-- read-only session (trackit sql).

-- The surrogate key of a row: md5 of its parts as text joined by '|', a NULL part spelled
-- NULL. Every id a mart derives (trip_id, episode_id, ...) is surrogate_key(...) of the
-- columns that identify the row: the same row keeps its id in every build. Parts are
-- integers, varchars and timestamps given as epoch_us(...). One macro per number of parts,
-- so each part is cast on its own (a list would first cast all parts to one type).
create or replace macro surrogate_key_part(part) as coalesce(part::varchar, 'NULL');
create or replace macro surrogate_key(a, b) as
        md5(surrogate_key_part(a) || '|' || surrogate_key_part(b)),
    (a, b, c) as
        md5(surrogate_key_part(a) || '|' || surrogate_key_part(b) || '|'
            || surrogate_key_part(c)),
    (a, b, c, d) as
        md5(surrogate_key_part(a) || '|' || surrogate_key_part(b) || '|'
            || surrogate_key_part(c) || '|' || surrogate_key_part(d));

-- Great-circle distance in metres between two WGS84 points (mean Earth radius).
create or replace macro haversine_m(lat1, lon1, lat2, lon2) as
    2 * 6371008.8 * asin(sqrt(
        pow(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * pow(sin(radians(lon2 - lon1) / 2), 2)
    ));

-- Whether a point lies inside a polygon given as the edges of its rings (core.places.edges):
-- a ray from the point towards the east crosses the edges an odd number of times (the
-- even-odd rule: holes and the parts of a multipolygon need no special case). Plane
-- geometry on degrees: exact enough for zones of a few kilometres away from the poles
-- and the antimeridian.
create or replace macro in_polygon(lat, lon, edges) as
    len(list_filter(edges, lambda e: ((e.lat1 > lat) != (e.lat2 > lat))
        and lon < (e.lon2 - e.lon1) * (lat - e.lat1) / (e.lat2 - e.lat1) + e.lon1)) % 2 = 1;

-- Whether a point lies inside a named place of core.places: its circle or its polygon.
create or replace macro in_place(lat, lon, place_lat, place_lon, radius_m, edges) as
    case when edges is null then haversine_m(lat, lon, place_lat, place_lon) <= radius_m
         else in_polygon(lat, lon, edges) end;

-- The grid cell of about cell_m x cell_m metres a point lies in, named by its centre:
-- 'discovered:<lat>,<lon>' (marts.discovered_places). Rows of cells run along parallels;
-- a cell's width in degrees of longitude follows the latitude of its row's centre. Its
-- (row, column) numbers find the stops of a set of cells without formatting each name.
create or replace macro place_cell_row(lat, cell_m) as
    floor(lat / degrees(cell_m / 6371008.8))::bigint;
create or replace macro place_cell_width(lat, cell_m) as
    degrees(cell_m / 6371008.8) / greatest(cos(radians(
        (place_cell_row(lat, cell_m) + 0.5) * degrees(cell_m / 6371008.8))), 0.01);
create or replace macro place_cell_column(lat, lon, cell_m) as
    floor(lon / place_cell_width(lat, cell_m))::bigint;
create or replace macro place_cell(lat, lon, cell_m) as
    printf('discovered:%.5f,%.5f',
           (place_cell_row(lat, cell_m) + 0.5) * degrees(cell_m / 6371008.8),
           (place_cell_column(lat, lon, cell_m) + 0.5) * place_cell_width(lat, cell_m));
