-- route ws:close: rows query
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM "ws:close frames"
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."params"."code" = trunc(_s."params"."code") THEN TRY_CAST(_s."params"."code" AS INTEGER) END AS "code",
    _s."params"."reason" AS "reason"
    FROM (SELECT *, json_transform(doc, '{"params": {"code": "DOUBLE", "reason": "VARCHAR"}}') AS _s FROM frames)
), listed AS (
    SELECT *, json_keys(doc, ['$', '$.params']) AS _keys FROM typed
), checked AS (
    SELECT *, coalesce(len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['params'], k))) > 0
        OR len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'code', 'reason'], k))) > 0
        OR CASE WHEN _keys[2] IS NOT NULL AND ("code" IS NULL)
        THEN ("code" IS NULL AND list_contains(_keys[2], 'code')) ELSE false END, true) AS _check FROM listed
), detailed AS (
    SELECT *,
    CASE WHEN _check THEN nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "code" IS NULL THEN 'params.code: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END), '') END AS _type_errors,
    CASE WHEN _check THEN nullif(TRY(to_json(map_from_entries(flatten([
        CASE WHEN len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['params'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(doc, '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['params'], e.key)), lambda e: {'key': '' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'code', 'reason'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'code', 'reason'], e.key)), lambda e: {'key': 'params.' || e.key, 'value': e.value}), []) ELSE [] END])))::VARCHAR), '{}') END AS extra
    FROM (SELECT *, CASE WHEN _check THEN json_extract_string(doc, ['$.params.code', '$.params.reason']) END AS _v
          FROM checked)
)
SELECT _file, _row, _type_errors,
    {
        "connection_id": CAST(connection_id AS VARCHAR),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "code": CAST(code AS INTEGER),
        "reason": CAST(reason AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "connection_closes"
FROM detailed
