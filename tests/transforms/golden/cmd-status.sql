-- route cmd-status: fast query (over batch)
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM batch
    WHERE route = 'cmd-status'
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."uid" = trunc(_s."uid") THEN TRY_CAST(_s."uid" AS BIGINT) END AS "uid",
    _s."params"."id" AS "command_id",
    _s."params"."status" AS "status"
    FROM (SELECT *, json_transform(doc, '{"uid": "DOUBLE", "params": {"id": "VARCHAR", "status": "BOOLEAN"}}') AS _s FROM frames)
), listed AS (
    SELECT *, json_keys(doc, ['$', '$.params']) AS _keys FROM typed
)
SELECT _file, _row,
    coalesce(NOT (len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0
        OR len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'id', 'status'], k))) > 0)
        AND CASE WHEN "uid" IS NOT NULL OR _keys[1] IS NULL THEN true
        ELSE NOT (("uid" IS NULL AND list_contains(_keys[1], 'uid'))) END
        AND CASE WHEN "status" IS NOT NULL OR _keys[2] IS NULL THEN true
        ELSE NOT (("status" IS NULL AND list_contains(_keys[2], 'status'))) END, false) AS _fast,
    NULL::VARCHAR AS _type_errors,
    {
        "uid": CAST(uid AS BIGINT),
        "reply_type": CAST('cmd-status' AS VARCHAR),
        "command_id": CAST(command_id AS VARCHAR),
        "command": CAST(NULL AS VARCHAR),
        "status": CAST(status AS BOOLEAN),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "extra": CAST(extra AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "command_replies"
FROM (SELECT *, NULL::VARCHAR AS extra FROM listed)

-- route cmd-status: exact query (over batch_slow)
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM batch_slow
    WHERE route = 'cmd-status'
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."uid" = trunc(_s."uid") THEN TRY_CAST(_s."uid" AS BIGINT) END AS "uid",
    _s."params"."id" AS "command_id",
    _s."params"."status" AS "status"
    FROM (SELECT *, json_transform(doc, '{"uid": "DOUBLE", "params": {"id": "VARCHAR", "status": "BOOLEAN"}}') AS _s FROM frames)
), listed AS (
    SELECT *, json_keys(doc, ['$', '$.params']) AS _keys FROM typed
), checked AS (
    SELECT *,
    nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "uid" IS NULL THEN 'uid: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[3] IS NOT NULL AND "status" IS NULL THEN 'params.status: ' || '"' || left(_v[3], 60) || '"' || ' is not a boolean' END), '') AS _type_errors,
    CASE WHEN len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0
        OR len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'id', 'status'], k))) > 0
    THEN nullif(TRY(to_json(map_from_entries(flatten([
        CASE WHEN len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(doc, '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['uid', 'params'], e.key)), lambda e: {'key': '' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'id', 'status'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'id', 'status'], e.key)), lambda e: {'key': 'params.' || e.key, 'value': e.value}), []) ELSE [] END])))::VARCHAR), '{}') END AS extra
    FROM (SELECT *, json_extract_string(doc, ['$.uid', '$.params.id', '$.params.status']) AS _v FROM listed)
)
SELECT _file, _row, _type_errors,
    {
        "uid": CAST(uid AS BIGINT),
        "reply_type": CAST('cmd-status' AS VARCHAR),
        "command_id": CAST(command_id AS VARCHAR),
        "command": CAST(NULL AS VARCHAR),
        "status": CAST(status AS BOOLEAN),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "extra": CAST(extra AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "command_replies"
FROM checked
