-- SQL macros of the warehouse, stored in it: the marts use them, and so can analysts in a
-- read-only session on DATA/warehouse.duckdb.

-- Great-circle distance in metres between two WGS84 points (mean Earth radius).
create or replace macro haversine_m(lat1, lon1, lat2, lon2) as
    2 * 6371008.8 * asin(sqrt(
        pow(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * pow(sin(radians(lon2 - lon1) / 2), 2)
    ));
