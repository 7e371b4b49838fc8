-- marts.discovered_places: places nobody named, found where vehicles stop.
--
-- The closed stops (not the current one) of at least min_stop_s whose position lies in no
-- named place of core.places are grouped by grid cell of about place_cell_m metres a side
-- (the place_cell macro); a cell where at least place_min_vehicles vehicles stopped at
-- least place_min_visits times is a discovered place, named after its cell's centre,
-- 'discovered:<lat>,<lon>'. A grid, not a clustering that grows from the first stop seen,
-- so the places depend only on the set of stops, never on the order data arrived in.
-- Recomputed for the cells of cell_windows, the cells whose stops the build changes (a
-- new stop can make a place of its cell); for all cells when the named places change.

with

closed_stops as (
    select vid, start_time, lat, lon
    from marts.stops as s
    where not is_open
      and duration_s >= $min_stop_s
      and lat is not null and lon is not null
      and (exists (select 1 from core.place_imports where _load_id > $since_load_id)
           or exists (select 1 from cell_windows as c
                      where c.cell_row = place_cell_row(s.lat, $place_cell_m)
                        and c.cell_column = place_cell_column(s.lat, s.lon, $place_cell_m)))
),

-- each named place once per row of cells its bounding box spans: a stop meets only the
-- places of its own row (an equality join, not a range join over every place)
named_place_rows as (
    select
        p.*,
        unnest(range(place_cell_row(p.min_lat, $place_cell_m),
                     place_cell_row(p.max_lat, $place_cell_m) + 1)) as cell_row
    from core.places as p
),

in_named_places as (
    select distinct s.vid, s.start_time
    from closed_stops as s
    join named_place_rows as p
        on place_cell_row(s.lat, $place_cell_m) = p.cell_row
        and s.lat between p.min_lat and p.max_lat and s.lon between p.min_lon and p.max_lon
    where in_place(s.lat, s.lon, p.lat, p.lon, p.radius_m, p.edges)
),

unnamed_stops as (
    select s.* from closed_stops as s
    anti join in_named_places as n on n.vid = s.vid and n.start_time = s.start_time
),

cells as (
    select
        place_cell(lat, lon, $place_cell_m) as name,
        place_cell_row(any_value(lat), $place_cell_m) as cell_row,
        place_cell_column(any_value(lat), any_value(lon), $place_cell_m) as cell_column,
        place_cell_width(any_value(lat), $place_cell_m) as cell_width,
        count(distinct vid) as vehicles,
        count(*) as stops,
        min(start_time) as first_stop_at,
        max(start_time) as last_stop_at
    from unnamed_stops
    group by 1
    having count(distinct vid) >= $place_min_vehicles and count(*) >= $place_min_visits
),

final as (
    select
        name,
        round((cell_row + 0.5) * degrees($place_cell_m / 6371008.8), 7) as lat,
        round((cell_column + 0.5) * cell_width, 7) as lon,
        cell_row * degrees($place_cell_m / 6371008.8) as min_lat,
        cell_column * cell_width as min_lon,
        (cell_row + 1) * degrees($place_cell_m / 6371008.8) as max_lat,
        (cell_column + 1) * cell_width as max_lon,
        vehicles,
        stops,
        first_stop_at,
        last_stop_at
    from cells
)

select * from final
