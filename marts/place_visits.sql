-- marts.place_visits: one row per stop of a vehicle inside a place.
--
-- A visit is a stop of marts.stops whose position lies inside a named place of
-- core.places (its circle, or its polygon by the even-odd rule: in_place), else inside a
-- discovered place (the stop's grid cell is one of marts.discovered_places). Named places
-- win over discovered ones; of several named places holding the stop, the smallest
-- (area_m2, then name) is the one visited. arrived_at and left_at are the stop's start and
-- end; the stop the vehicle is in now is a visit with left_at NULL and is_open (dwell_s
-- runs to its last record). trip_id_in is the trip that ended at the arrival (none for the
-- stop before a vehicle's first trip, flag 'first'), trip_id_out the trip that started
-- when it left.
--
-- Recomputed for the stops in the trip windows and the stops in the cells of cell_windows
-- that became or stopped being a discovered place (the trips around a stop change only in
-- the trip windows); for all stops when the named places change (an import can change the
-- place of any visit: $places_changed, a load of core.place_imports since the last build).

with

flipped_cells as (
    select cell_row, cell_column from cell_windows
    where was_discovered <> (name in (select name from marts.discovered_places))
),

-- the stops to place: all of them when the named places changed; else the stops of the
-- trip windows and the stops in a flipped cell. Each branch is its own scan with its own
-- bound, so DuckDB reads only the newest files (or nothing, when no cell flipped).
flipped_stops as (
    select s.vid, s.start_time, s.end_time, s.duration_s, s.lat, s.lon, s.is_open, s.flags
    from marts.stops as s
    semi join flipped_cells as c
        on c.cell_row = place_cell_row(s.lat, $place_cell_m)
        and c.cell_column = place_cell_column(s.lat, s.lon, $place_cell_m)
    where not $places_changed
),

stops as (
    select vid, start_time, end_time, duration_s, lat, lon, is_open, flags
    from marts.stops
    where $places_changed and lat is not null and lon is not null
    union
    select s.vid, s.start_time, s.end_time, s.duration_s, s.lat, s.lon, s.is_open, s.flags
    from marts.stops as s
    semi join trip_windows as w on w.vid = s.vid and s.start_time >= w.window_start
    where not $places_changed and s.start_time >= $earliest_window_start
      and s.lat is not null and s.lon is not null
    union
    select * from flipped_stops
),

-- the trips that end at or start from those stops, found the same way
trips_around as (
    select vid, trip_id, start_time, end_time from marts.trips where $places_changed
    union
    select vid, trip_id, start_time, end_time from marts.trips
    where not $places_changed and end_time >= $earliest_window_start
    union
    select t.vid, t.trip_id, t.start_time, t.end_time
    from marts.trips as t
    semi join flipped_stops as s on t.vid = s.vid and t.end_time = s.start_time
    union
    select t.vid, t.trip_id, t.start_time, t.end_time
    from marts.trips as t
    semi join flipped_stops as s on t.vid = s.vid and t.start_time = s.end_time
),

named_matches as (
    select
        s.vid,
        s.start_time,
        p.name as place,
        row_number() over (partition by s.vid, s.start_time order by p.area_m2, p.name)
            as preference
    from stops as s
    join core.places as p
        on s.lat between p.min_lat and p.max_lat and s.lon between p.min_lon and p.max_lon
    where in_place(s.lat, s.lon, p.lat, p.lon, p.radius_m, p.edges)
),

discovered_matches as (
    select s.vid, s.start_time, d.name as place
    from stops as s
    join marts.discovered_places as d on place_cell(s.lat, s.lon, $place_cell_m) = d.name
),

matches as (
    select vid, start_time, place, 'named' as kind
    from named_matches
    where preference = 1
    union all
    select vid, start_time, place, 'discovered' as kind
    from discovered_matches as d
    where not exists (
        select 1 from named_matches as n where n.vid = d.vid and n.start_time = d.start_time
    )
),

final as (
    select
        s.vid,
        m.place,
        m.kind,
        s.start_time as arrived_at,
        case when not s.is_open then s.end_time end as left_at,
        s.duration_s as dwell_s,
        trip_in.trip_id as trip_id_in,
        case when not s.is_open then trip_out.trip_id end as trip_id_out,
        s.lat,
        s.lon,
        s.is_open,
        s.flags
    from stops as s
    join matches as m using (vid, start_time)
    left join trips_around as trip_in
        on trip_in.vid = s.vid and trip_in.end_time = s.start_time
    left join trips_around as trip_out
        on trip_out.vid = s.vid and trip_out.start_time = s.end_time
)

select * from final
