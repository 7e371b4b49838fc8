-- route out:pnd-api: rows query
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM "out:pnd-api frames"
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."query"."uid" = trunc(_s."query"."uid") THEN TRY_CAST(_s."query"."uid" AS BIGINT) END AS "uid",
    _s."query"."content"."type" AS "command",
    _s."query"."content"."guid" AS "command_id",
    _s."query"."content"."txt" AS "txt"
    FROM (SELECT *, json_transform(doc, '{"query": {"uid": "DOUBLE", "content": {"type": "VARCHAR", "guid": "VARCHAR", "txt": "VARCHAR"}}}') AS _s FROM frames)
), listed AS (
    SELECT *, NULL AS _keys FROM typed
), checked AS (
    SELECT *, true AS _check FROM listed
), detailed AS (
    SELECT *,
    CASE WHEN _check THEN nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "uid" IS NULL THEN 'query.uid: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END), '') END AS _type_errors,
    CASE WHEN _check THEN NULL END AS extra
    FROM (SELECT *, CASE WHEN _check THEN json_extract_string(doc, ['$.query.uid', '$.query.content.type', '$.query.content.guid', '$.query.content.txt']) END AS _v
          FROM checked)
)
SELECT _file, _row, _type_errors,
    {
        "uid": CAST(uid AS BIGINT),
        "command": CAST(command AS VARCHAR),
        "command_id": CAST(command_id AS VARCHAR),
        "sent_at": CAST(received_at AS TIMESTAMPTZ),
        "status": CAST('sent' AS VARCHAR),
        "replied_at": CAST(NULL AS TIMESTAMPTZ),
        "text": CAST(txt AS VARCHAR),
        "connection_id": CAST(connection_id AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "commands"
FROM detailed
