-- route pnd-connection: rows query
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM "pnd-connection frames"
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."uid" = trunc(_s."uid") THEN TRY_CAST(_s."uid" AS BIGINT) END AS "uid",
    CASE WHEN _s."params"."status" = trunc(_s."params"."status") THEN TRY_CAST(_s."params"."status" AS INTEGER) END AS "status"
    FROM (SELECT *, json_transform(doc, '{"uid": "DOUBLE", "params": {"status": "DOUBLE"}}') AS _s FROM frames)
), listed AS (
    SELECT *, json_keys(doc, ['$', '$.params']) AS _keys FROM typed
), checked AS (
    SELECT *, coalesce(len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0
        OR len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'status'], k))) > 0
        OR CASE WHEN _keys[1] IS NOT NULL AND ("uid" IS NULL)
        THEN ("uid" IS NULL AND list_contains(_keys[1], 'uid')) ELSE false END
        OR CASE WHEN _keys[2] IS NOT NULL AND ("status" IS NULL)
        THEN ("status" IS NULL AND list_contains(_keys[2], 'status')) ELSE false END, true) AS _check FROM listed
), detailed AS (
    SELECT *,
    CASE WHEN _check THEN nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "uid" IS NULL THEN 'uid: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[2] IS NOT NULL AND "status" IS NULL THEN 'params.status: ' || '"' || left(_v[2], 60) || '"' || ' is not an integer' END), '') END AS _type_errors,
    CASE WHEN _check THEN nullif(TRY(to_json(map_from_entries(flatten([
        CASE WHEN len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(doc, '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['uid', 'params'], e.key)), lambda e: {'key': '' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'status'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'status'], e.key)), lambda e: {'key': 'params.' || e.key, 'value': e.value}), []) ELSE [] END])))::VARCHAR), '{}') END AS extra
    FROM (SELECT *, CASE WHEN _check THEN json_extract_string(doc, ['$.uid', '$.params.status']) END AS _v
          FROM checked)
)
SELECT _file, _row, _type_errors,
    {
        "uid": CAST(uid AS BIGINT),
        "kind": CAST('driver_app' AS VARCHAR),
        "status": CAST(status AS INTEGER),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "extra": CAST(extra AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "connections"
FROM detailed
