"""marts.deliveries: one row per service-generic delivery, done or failed, and its place."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Scope, read_sql

MART = Mart(
    name="deliveries",
    grain="service-generic event (a delivery, done or failed)",
    columns=(
        MartColumn("service_event_id", "varchar", False, "the event's _id", unique=True),
        MartColumn("vid", "bigint"),
        MartColumn("uid", "bigint"),
        MartColumn("service_id", "varchar", description="the service (mission) id"),
        MartColumn("tmx", "timestamptz", False, "device time of the event"),
        MartColumn("service_tmx", "timestamptz", description="the service's own time"),
        MartColumn("delivered", "boolean", description="false: failed, see message"),
        MartColumn("message", "varchar", description="the driver's reason for a failure"),
        MartColumn("lat", "double", ge=-90, le=90),
        MartColumn("lon", "double", ge=-180, le=180),
        MartColumn("place", "varchar", description="the smallest named place holding the "
                   "position (core.places), NULL when none"),
    ),
    sql=read_sql(__file__),
    sorted_by="tmx",
    scope=Scope(
        delete="""
            delete from marts.deliveries
            where exists (select 1 from core.place_imports where _load_id > $since_load_id)
               or service_event_id in (
                   select service_event_id from core.services where _load_id > $since_load_id)
        """,
        touched_since="""
            select case
                when exists (select 1 from core.place_imports where _load_id > $since_load_id)
                then (select min(tmx) from core.services)
                else (select min(tmx) from core.services where _load_id > $since_load_id)
            end
        """,
        touched_rows="tmx >= $since",
    ),
    reads=("core.services", "core.places", "core.place_imports"),
)
