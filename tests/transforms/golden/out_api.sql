-- route out:api: fast query (over batch)
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM batch
    WHERE route = 'out:api'
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."query"."uid" = trunc(_s."query"."uid") THEN TRY_CAST(_s."query"."uid" AS BIGINT) END AS "uid",
    _s."query"."cmd" AS "command",
    _s."query"."id" AS "command_id"
    FROM (SELECT *, json_transform(doc, '{"query": {"uid": "DOUBLE", "cmd": "VARCHAR", "id": "VARCHAR"}}') AS _s FROM frames)
), listed AS (
    SELECT *, NULL AS _keys FROM typed
)
SELECT _file, _row,
    false AS _fast,
    NULL::VARCHAR AS _type_errors,
    {
        "uid": CAST(uid AS BIGINT),
        "command": CAST(command AS VARCHAR),
        "command_id": CAST(command_id AS VARCHAR),
        "sent_at": CAST(received_at AS TIMESTAMPTZ),
        "status": CAST('sent' AS VARCHAR),
        "replied_at": CAST(NULL AS TIMESTAMPTZ),
        "text": CAST(NULL AS VARCHAR),
        "connection_id": CAST(connection_id AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "commands"
FROM (SELECT *, NULL::VARCHAR AS extra FROM listed)

-- route out:api: exact query (over batch_slow)
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM batch_slow
    WHERE route = 'out:api'
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."query"."uid" = trunc(_s."query"."uid") THEN TRY_CAST(_s."query"."uid" AS BIGINT) END AS "uid",
    _s."query"."cmd" AS "command",
    _s."query"."id" AS "command_id"
    FROM (SELECT *, json_transform(doc, '{"query": {"uid": "DOUBLE", "cmd": "VARCHAR", "id": "VARCHAR"}}') AS _s FROM frames)
), listed AS (
    SELECT *, NULL AS _keys FROM typed
), checked AS (
    SELECT *,
    nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "uid" IS NULL THEN 'query.uid: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END), '') AS _type_errors,
    NULL AS extra
    FROM (SELECT *, json_extract_string(doc, ['$.query.uid', '$.query.cmd', '$.query.id']) AS _v FROM listed)
)
SELECT _file, _row, _type_errors,
    {
        "uid": CAST(uid AS BIGINT),
        "command": CAST(command AS VARCHAR),
        "command_id": CAST(command_id AS VARCHAR),
        "sent_at": CAST(received_at AS TIMESTAMPTZ),
        "status": CAST('sent' AS VARCHAR),
        "replied_at": CAST(NULL AS TIMESTAMPTZ),
        "text": CAST(NULL AS VARCHAR),
        "connection_id": CAST(connection_id AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "commands"
FROM checked
