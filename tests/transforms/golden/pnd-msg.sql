-- route pnd-msg: rows query
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM "pnd-msg frames"
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."uid" = trunc(_s."uid") THEN TRY_CAST(_s."uid" AS BIGINT) END AS "uid",
    _s."params"."event"."_id" AS "event_id",
    _s."params"."event"."hid" AS "hid",
    CASE WHEN _s."params"."event"."mid" = trunc(_s."params"."event"."mid") THEN TRY_CAST(_s."params"."event"."mid" AS BIGINT) END AS "mid",
    CASE WHEN _s."params"."event"."eid" = trunc(_s."params"."event"."eid") THEN TRY_CAST(_s."params"."event"."eid" AS INTEGER) END AS "eid",
    TRY_CAST(_s."params"."event"."tmx" AS TIMESTAMPTZ) AS "ev_tmx",
    TRY_CAST(_s."params"."event"."rmx" AS TIMESTAMPTZ) AS "rmx",
    _s."params"."event"."lat" AS "ev_lat",
    _s."params"."event"."lng" AS "ev_lng",
    CASE WHEN _s."params"."event"."sts" = trunc(_s."params"."event"."sts") THEN TRY_CAST(_s."params"."event"."sts" AS INTEGER) END AS "sts",
    _s."params"."event"."frc" AS "frc",
    _s."params"."event"."src" AS "src",
    _s."params"."event"."txt" AS "txt",
    CASE WHEN _s."params"."event"."pmi" = trunc(_s."params"."event"."pmi") THEN TRY_CAST(_s."params"."event"."pmi" AS INTEGER) END AS "pmi"
    FROM (SELECT *, json_transform(doc, '{"uid": "DOUBLE", "params": {"event": {"_id": "VARCHAR", "hid": "VARCHAR", "mid": "DOUBLE", "eid": "DOUBLE", "tmx": "VARCHAR", "rmx": "VARCHAR", "lat": "DOUBLE", "lng": "DOUBLE", "sts": "DOUBLE", "frc": "VARCHAR", "src": "VARCHAR", "txt": "VARCHAR", "pmi": "DOUBLE"}}}') AS _s FROM frames)
), listed AS (
    SELECT *, json_keys(doc, ['$', '$.params', '$.params.event']) AS _keys FROM typed
), checked AS (
    SELECT *, coalesce(len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0
        OR len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'event'], k))) > 0
        OR len(list_filter(coalesce(_keys[3], []), lambda k: NOT list_contains(['_id', 'hid', 'mid', 'eid', 'tmx', 'rmx', 'lat', 'lng', 'sts', 'frc', 'src', 'txt', 'pmi'], k))) > 0
        OR CASE WHEN _keys[1] IS NOT NULL AND ("uid" IS NULL)
        THEN ("uid" IS NULL AND list_contains(_keys[1], 'uid')) ELSE false END
        OR CASE WHEN _keys[3] IS NOT NULL AND ("mid" IS NULL OR "eid" IS NULL OR "ev_tmx" IS NULL OR "rmx" IS NULL OR "ev_lat" IS NULL OR "ev_lng" IS NULL OR "sts" IS NULL OR "pmi" IS NULL)
        THEN ("mid" IS NULL AND list_contains(_keys[3], 'mid')) OR ("eid" IS NULL AND list_contains(_keys[3], 'eid')) OR ("ev_tmx" IS NULL AND list_contains(_keys[3], 'tmx')) OR ("rmx" IS NULL AND list_contains(_keys[3], 'rmx')) OR ("ev_lat" IS NULL AND list_contains(_keys[3], 'lat')) OR ("ev_lng" IS NULL AND list_contains(_keys[3], 'lng')) OR ("sts" IS NULL AND list_contains(_keys[3], 'sts')) OR ("pmi" IS NULL AND list_contains(_keys[3], 'pmi')) ELSE false END, true) AS _check FROM listed
), detailed AS (
    SELECT *,
    CASE WHEN _check THEN nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "uid" IS NULL THEN 'uid: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[4] IS NOT NULL AND "mid" IS NULL THEN 'params.event.mid: ' || '"' || left(_v[4], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[5] IS NOT NULL AND "eid" IS NULL THEN 'params.event.eid: ' || '"' || left(_v[5], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[6] IS NOT NULL AND "ev_tmx" IS NULL THEN 'params.event.tmx: ' || '"' || left(_v[6], 60) || '"' || ' is not a timestamp' END,
        CASE WHEN _v[7] IS NOT NULL AND "rmx" IS NULL THEN 'params.event.rmx: ' || '"' || left(_v[7], 60) || '"' || ' is not a timestamp' END,
        CASE WHEN _v[8] IS NOT NULL AND "ev_lat" IS NULL THEN 'params.event.lat: ' || '"' || left(_v[8], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[9] IS NOT NULL AND "ev_lng" IS NULL THEN 'params.event.lng: ' || '"' || left(_v[9], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[10] IS NOT NULL AND "sts" IS NULL THEN 'params.event.sts: ' || '"' || left(_v[10], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[14] IS NOT NULL AND "pmi" IS NULL THEN 'params.event.pmi: ' || '"' || left(_v[14], 60) || '"' || ' is not an integer' END), '') END AS _type_errors,
    CASE WHEN _check THEN nullif(TRY(to_json(map_from_entries(flatten([
        CASE WHEN len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(doc, '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['uid', 'params'], e.key)), lambda e: {'key': '' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'event'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'event'], e.key)), lambda e: {'key': 'params.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[3], []), lambda k: NOT list_contains(['_id', 'hid', 'mid', 'eid', 'tmx', 'rmx', 'lat', 'lng', 'sts', 'frc', 'src', 'txt', 'pmi'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.event'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['_id', 'hid', 'mid', 'eid', 'tmx', 'rmx', 'lat', 'lng', 'sts', 'frc', 'src', 'txt', 'pmi'], e.key)), lambda e: {'key': 'params.event.' || e.key, 'value': e.value}), []) ELSE [] END])))::VARCHAR), '{}') END AS extra
    FROM (SELECT *, CASE WHEN _check THEN json_extract_string(doc, ['$.uid', '$.params.event._id', '$.params.event.hid', '$.params.event.mid', '$.params.event.eid', '$.params.event.tmx', '$.params.event.rmx', '$.params.event.lat', '$.params.event.lng', '$.params.event.sts', '$.params.event.frc', '$.params.event.src', '$.params.event.txt', '$.params.event.pmi']) END AS _v
          FROM checked)
)
SELECT _file, _row, _type_errors,
    {
        "uid": CAST(uid AS BIGINT),
        "kind": CAST('free' AS VARCHAR),
        "text": CAST(txt AS VARCHAR),
        "predefined_id": CAST(pmi AS INTEGER),
        "record_id": CAST(hid AS VARCHAR),
        "eid": CAST(eid AS INTEGER),
        "mid": CAST(mid AS BIGINT),
        "tmx": CAST(ev_tmx AS TIMESTAMPTZ),
        "rmx": CAST(rmx AS TIMESTAMPTZ),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "lat": CAST(ev_lat AS DOUBLE),
        "lon": CAST(ev_lng AS DOUBLE),
        "sts": CAST(sts AS INTEGER),
        "frc": CAST(frc AS VARCHAR),
        "src": CAST(src AS VARCHAR),
        "extra": CAST(extra AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "driver_messages"
FROM detailed
