-- marts.deliveries: one row per service-generic event of core.services (a delivery,
-- done or failed), with the named place of core.places its position lies in.
--
-- delivered is the driver's answer (true, false, NULL when the event said nothing);
-- message the reason given for a failure ('Not delivered - client absent', ...). place is
-- the smallest named place holding the position (circle or polygon: in_place), NULL when
-- none does or the event has no position.
-- Recomputed for the services loaded since the last build, and for all of them when a
-- new set of places was imported (core.place_imports).

with

places_changed as (
    select exists (select 1 from core.place_imports where _load_id > $since_load_id) as yes
),

services as (
    select *
    from core.services
    where _load_id > $since_load_id or (select yes from places_changed)
),

placed as (
    select
        s.service_event_id,
        p.name as place,
        row_number() over (partition by s.service_event_id order by p.area_m2, p.name)
            as preference
    from services as s
    join core.places as p
        on s.lat between p.min_lat and p.max_lat and s.lon between p.min_lon and p.max_lon
    where in_place(s.lat, s.lon, p.lat, p.lon, p.radius_m, p.edges)
),

final as (
    select
        s.service_event_id,
        s.vid,
        s.uid,
        s.service_id,
        s.tmx,
        s.service_tmx,
        s.delivered,
        s.message,
        s.lat,
        s.lon,
        p.place
    from services as s
    left join placed as p on p.service_event_id = s.service_event_id and p.preference = 1
)

select * from final
