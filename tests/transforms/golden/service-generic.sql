-- route service-generic: rows query
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM "service-generic frames"
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."uid" = trunc(_s."uid") THEN TRY_CAST(_s."uid" AS BIGINT) END AS "uid",
    _s."params"."event"."_id" AS "service_event_id",
    CASE WHEN _s."params"."event"."vid" = trunc(_s."params"."event"."vid") THEN TRY_CAST(_s."params"."event"."vid" AS BIGINT) END AS "vid",
    TRY_CAST(_s."params"."event"."tmx" AS TIMESTAMPTZ) AS "tmx",
    _s."params"."event"."loc"."lat" AS "lat",
    _s."params"."event"."loc"."lng" AS "lng",
    _s."params"."event"."loc"."lon" AS "lon",
    _s."params"."event"."gsp" AS "gsp",
    _s."params"."event"."hdg" AS "hdg",
    CASE WHEN _s."params"."event"."gkm" = trunc(_s."params"."event"."gkm") THEN TRY_CAST(_s."params"."event"."gkm" AS BIGINT) END AS "gkm",
    _s."params"."event"."exd"."evt"."id" AS "service_id",
    _s."params"."event"."exd"."evt"."delivered" AS "delivered",
    _s."params"."event"."exd"."evt"."msg" AS "message",
    TRY_CAST(_s."params"."event"."exd"."evt"."tmx" AS TIMESTAMPTZ) AS "service_tmx"
    FROM (SELECT *, json_transform(doc, '{"uid": "DOUBLE", "params": {"event": {"_id": "VARCHAR", "vid": "DOUBLE", "tmx": "VARCHAR", "loc": {"lat": "DOUBLE", "lng": "DOUBLE", "lon": "DOUBLE"}, "gsp": "DOUBLE", "hdg": "DOUBLE", "gkm": "DOUBLE", "exd": {"evt": {"id": "VARCHAR", "delivered": "BOOLEAN", "msg": "VARCHAR", "tmx": "VARCHAR"}}}}}') AS _s FROM frames)
), listed AS (
    SELECT *, json_keys(doc, ['$', '$.params', '$.params.event', '$.params.event.loc', '$.params.event.exd', '$.params.event.exd.evt']) AS _keys FROM typed
), checked AS (
    SELECT *, coalesce(len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0
        OR len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'event'], k))) > 0
        OR len(list_filter(coalesce(_keys[3], []), lambda k: NOT list_contains(['_id', 'vid', 'tmx', 'loc', 'gsp', 'hdg', 'gkm', 'exd'], k))) > 0
        OR len(list_filter(coalesce(_keys[4], []), lambda k: NOT list_contains(['lat', 'lng', 'lon'], k))) > 0
        OR len(list_filter(coalesce(_keys[5], []), lambda k: NOT list_contains(['type', 'evt'], k))) > 0
        OR len(list_filter(coalesce(_keys[6], []), lambda k: NOT list_contains(['id', 'delivered', 'tmx', 'msg'], k))) > 0
        OR CASE WHEN _keys[1] IS NOT NULL AND ("uid" IS NULL)
        THEN ("uid" IS NULL AND list_contains(_keys[1], 'uid')) ELSE false END
        OR CASE WHEN _keys[3] IS NOT NULL AND ("vid" IS NULL OR "tmx" IS NULL OR "gsp" IS NULL OR "hdg" IS NULL OR "gkm" IS NULL)
        THEN ("vid" IS NULL AND list_contains(_keys[3], 'vid')) OR ("tmx" IS NULL AND list_contains(_keys[3], 'tmx')) OR ("gsp" IS NULL AND list_contains(_keys[3], 'gsp')) OR ("hdg" IS NULL AND list_contains(_keys[3], 'hdg')) OR ("gkm" IS NULL AND list_contains(_keys[3], 'gkm')) ELSE false END
        OR CASE WHEN _keys[4] IS NOT NULL AND ("lat" IS NULL OR "lng" IS NULL OR "lon" IS NULL)
        THEN ("lat" IS NULL AND list_contains(_keys[4], 'lat')) OR ("lng" IS NULL AND list_contains(_keys[4], 'lng')) OR ("lon" IS NULL AND list_contains(_keys[4], 'lon')) ELSE false END
        OR CASE WHEN _keys[6] IS NOT NULL AND ("delivered" IS NULL OR "service_tmx" IS NULL)
        THEN ("delivered" IS NULL AND list_contains(_keys[6], 'delivered')) OR ("service_tmx" IS NULL AND list_contains(_keys[6], 'tmx')) ELSE false END, true) AS _check FROM listed
), detailed AS (
    SELECT *,
    CASE WHEN _check THEN nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "uid" IS NULL THEN 'uid: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[3] IS NOT NULL AND "vid" IS NULL THEN 'params.event.vid: ' || '"' || left(_v[3], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[4] IS NOT NULL AND "tmx" IS NULL THEN 'params.event.tmx: ' || '"' || left(_v[4], 60) || '"' || ' is not a timestamp' END,
        CASE WHEN _v[5] IS NOT NULL AND "lat" IS NULL THEN 'params.event.loc.lat: ' || '"' || left(_v[5], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[6] IS NOT NULL AND "lng" IS NULL THEN 'params.event.loc.lng: ' || '"' || left(_v[6], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[7] IS NOT NULL AND "lon" IS NULL THEN 'params.event.loc.lon: ' || '"' || left(_v[7], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[8] IS NOT NULL AND "gsp" IS NULL THEN 'params.event.gsp: ' || '"' || left(_v[8], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[9] IS NOT NULL AND "hdg" IS NULL THEN 'params.event.hdg: ' || '"' || left(_v[9], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[10] IS NOT NULL AND "gkm" IS NULL THEN 'params.event.gkm: ' || '"' || left(_v[10], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[12] IS NOT NULL AND "delivered" IS NULL THEN 'params.event.exd.evt.delivered: ' || '"' || left(_v[12], 60) || '"' || ' is not a boolean' END,
        CASE WHEN _v[14] IS NOT NULL AND "service_tmx" IS NULL THEN 'params.event.exd.evt.tmx: ' || '"' || left(_v[14], 60) || '"' || ' is not a timestamp' END), '') END AS _type_errors,
    CASE WHEN _check THEN nullif(TRY(to_json(map_from_entries(flatten([
        CASE WHEN len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(doc, '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['uid', 'params'], e.key)), lambda e: {'key': '' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'event'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'event'], e.key)), lambda e: {'key': 'params.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[3], []), lambda k: NOT list_contains(['_id', 'vid', 'tmx', 'loc', 'gsp', 'hdg', 'gkm', 'exd'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.event'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['_id', 'vid', 'tmx', 'loc', 'gsp', 'hdg', 'gkm', 'exd'], e.key)), lambda e: {'key': 'params.event.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[4], []), lambda k: NOT list_contains(['lat', 'lng', 'lon'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.event.loc'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['lat', 'lng', 'lon'], e.key)), lambda e: {'key': 'params.event.loc.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[5], []), lambda k: NOT list_contains(['type', 'evt'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.event.exd'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'evt'], e.key)), lambda e: {'key': 'params.event.exd.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[6], []), lambda k: NOT list_contains(['id', 'delivered', 'tmx', 'msg'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.event.exd.evt'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['id', 'delivered', 'tmx', 'msg'], e.key)), lambda e: {'key': 'params.event.exd.evt.' || e.key, 'value': e.value}), []) ELSE [] END])))::VARCHAR), '{}') END AS extra
    FROM (SELECT *, CASE WHEN _check THEN json_extract_string(doc, ['$.uid', '$.params.event._id', '$.params.event.vid', '$.params.event.tmx', '$.params.event.loc.lat', '$.params.event.loc.lng', '$.params.event.loc.lon', '$.params.event.gsp', '$.params.event.hdg', '$.params.event.gkm', '$.params.event.exd.evt.id', '$.params.event.exd.evt.delivered', '$.params.event.exd.evt.msg', '$.params.event.exd.evt.tmx']) END AS _v
          FROM checked)
)
SELECT _file, _row, _type_errors,
    {
        "service_event_id": CAST(service_event_id AS VARCHAR),
        "uid": CAST(uid AS BIGINT),
        "vid": CAST(vid AS BIGINT),
        "tmx": CAST(tmx AS TIMESTAMPTZ),
        "lat": CAST(lat AS DOUBLE),
        "lon": CAST(coalesce(lng, lon) AS DOUBLE),
        "speed_kmh": CAST(gsp AS DOUBLE),
        "heading": CAST(hdg AS DOUBLE),
        "odometer": CAST(nullif(gkm, -1) AS BIGINT),
        "service_id": CAST(service_id AS VARCHAR),
        "delivered": CAST(delivered AS BOOLEAN),
        "message": CAST(message AS VARCHAR),
        "service_tmx": CAST(service_tmx AS TIMESTAMPTZ),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "extra": CAST(extra AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "services"
FROM detailed
