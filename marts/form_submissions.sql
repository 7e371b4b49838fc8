-- marts.form_submissions: one row per form a driver sent (core.forms), with its fields
-- (core.form_fields) as one JSON object, the vehicle and driver card of the unit's
-- latest record at or before the form (at most max_gap_s before it) and the named place
-- of core.places its position lies in.
--
-- Recomputed for the forms (or fields) loaded since the last build, the forms whose
-- unit has new records up to max_gap_s before them (they may change its vehicle or
-- driver), and all forms when a new set of places was imported (core.place_imports).

with

places_changed as (
    select exists (select 1 from core.place_imports where _load_id > $since_load_id) as yes
),

new_records as (
    select uid, min(tmx) as first_tmx, max(tmx) as last_tmx
    from core.records
    where _load_id > $since_load_id
    group by uid
),

forms as (
    select f.form_id, f.uid, f.form_name, f.tmx, f.lat, f.lon
    from core.forms as f
    where f._load_id > $since_load_id
       or (select yes from places_changed)
       or f.form_id in (select form_id from core.form_fields where _load_id > $since_load_id)
       or exists (
           select 1 from new_records as r
           where r.uid = f.uid and f.tmx >= r.first_tmx
             and epoch(f.tmx) - epoch(r.last_tmx) <= $max_gap_s
       )
),

unit_records as (
    select uid, tmx, vid, driver_card
    from core.records
    where uid in (select uid from forms)
      and tmx >= (select min(tmx) from forms) - to_seconds($max_gap_s)
),

with_vehicle as (
    select
        f.*,
        case when epoch(f.tmx) - epoch(r.tmx) <= $max_gap_s then r.vid end as vid,
        case when epoch(f.tmx) - epoch(r.tmx) <= $max_gap_s then r.driver_card end
            as driver_card
    from forms as f
    asof left join unit_records as r on r.uid = f.uid and f.tmx >= r.tmx
),

fields as (
    -- keys in name order: the same text whatever order the rows are read in
    select form_id,
           to_json(map(list(field order by field), list(value order by field)))::varchar
               as fields
    from core.form_fields
    where form_id in (select form_id from forms)
    group by form_id
),

placed as (
    select
        f.form_id,
        p.name as place,
        row_number() over (partition by f.form_id order by p.area_m2, p.name) as preference
    from forms as f
    join core.places as p
        on f.lat between p.min_lat and p.max_lat and f.lon between p.min_lon and p.max_lon
    where in_place(f.lat, f.lon, p.lat, p.lon, p.radius_m, p.edges)
),

final as (
    select
        f.form_id,
        f.uid,
        f.vid,
        f.driver_card,
        f.form_name,
        f.tmx,
        f.lat,
        f.lon,
        p.place,
        coalesce(x.fields, '{}') as fields
    from with_vehicle as f
    left join fields as x using (form_id)
    left join placed as p on p.form_id = f.form_id and p.preference = 1
)

select * from final
