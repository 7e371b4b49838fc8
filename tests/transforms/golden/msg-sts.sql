-- route msg-sts: rows query
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM "msg-sts frames"
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."uid" = trunc(_s."uid") THEN TRY_CAST(_s."uid" AS BIGINT) END AS "uid",
    _s."params"."id" AS "message_id",
    CASE WHEN _s."params"."txs" = trunc(_s."params"."txs") THEN TRY_CAST(_s."params"."txs" AS INTEGER) END AS "txs",
    _s."params"."content"."content"."txt" AS "txt",
    _s."params"."content"."content"."guid" AS "guid"
    FROM (SELECT *, json_transform(doc, '{"uid": "DOUBLE", "params": {"id": "VARCHAR", "txs": "DOUBLE", "content": {"content": {"txt": "VARCHAR", "guid": "VARCHAR"}}}}') AS _s FROM frames)
), listed AS (
    SELECT *, json_keys(doc, ['$', '$.params', '$.params.content', '$.params.content.content']) AS _keys FROM typed
), checked AS (
    SELECT *, coalesce(len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0
        OR len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'id', 'txs', 'content'], k))) > 0
        OR len(list_filter(coalesce(_keys[3], []), lambda k: NOT list_contains(['type', 'content'], k))) > 0
        OR len(list_filter(coalesce(_keys[4], []), lambda k: NOT list_contains(['txt', 'guid'], k))) > 0
        OR CASE WHEN _keys[1] IS NOT NULL AND ("uid" IS NULL)
        THEN ("uid" IS NULL AND list_contains(_keys[1], 'uid')) ELSE false END
        OR CASE WHEN _keys[2] IS NOT NULL AND ("txs" IS NULL)
        THEN ("txs" IS NULL AND list_contains(_keys[2], 'txs')) ELSE false END, true) AS _check FROM listed
), detailed AS (
    SELECT *,
    CASE WHEN _check THEN nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "uid" IS NULL THEN 'uid: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[3] IS NOT NULL AND "txs" IS NULL THEN 'params.txs: ' || '"' || left(_v[3], 60) || '"' || ' is not an integer' END), '') END AS _type_errors,
    CASE WHEN _check THEN nullif(TRY(to_json(map_from_entries(flatten([
        CASE WHEN len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(doc, '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['uid', 'params'], e.key)), lambda e: {'key': '' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'id', 'txs', 'content'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'id', 'txs', 'content'], e.key)), lambda e: {'key': 'params.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[3], []), lambda k: NOT list_contains(['type', 'content'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.content'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'content'], e.key)), lambda e: {'key': 'params.content.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[4], []), lambda k: NOT list_contains(['txt', 'guid'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.content.content'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['txt', 'guid'], e.key)), lambda e: {'key': 'params.content.content.' || e.key, 'value': e.value}), []) ELSE [] END])))::VARCHAR), '{}') END AS extra
    FROM (SELECT *, CASE WHEN _check THEN json_extract_string(doc, ['$.uid', '$.params.id', '$.params.txs', '$.params.content.content.txt', '$.params.content.content.guid']) END AS _v
          FROM checked)
)
SELECT _file, _row, _type_errors,
    {
        "uid": CAST(uid AS BIGINT),
        "message_id": CAST(message_id AS VARCHAR),
        "txs": CAST(txs AS INTEGER),
        "status": CAST(CASE WHEN txs BETWEEN 0 AND 5 THEN ['not_processed', 'buffered', 'error', 'pending', 'delivered', 'read'][txs + 1] END AS VARCHAR),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "text": CAST(txt AS VARCHAR),
        "guid": CAST(guid AS VARCHAR),
        "extra": CAST(extra AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "message_status"
FROM detailed
