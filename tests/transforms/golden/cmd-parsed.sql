-- route cmd-parsed: rows query
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM "cmd-parsed frames"
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."uid" = trunc(_s."uid") THEN TRY_CAST(_s."uid" AS BIGINT) END AS "uid",
    _s."params"."sub-type" AS "command",
    CASE WHEN json_type(_s."params"."cmd") = 'OBJECT' THEN _s."params"."cmd" END AS "cmd_map"
    FROM (SELECT *, json_transform(doc, '{"uid": "DOUBLE", "params": {"sub-type": "VARCHAR", "cmd": "JSON"}}') AS _s FROM frames)
), listed AS (
    SELECT *, json_keys(doc, ['$', '$.params']) AS _keys FROM typed
), checked AS (
    SELECT *, coalesce(len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0
        OR len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'sub-type', 'cmd'], k))) > 0
        OR CASE WHEN _keys[1] IS NOT NULL AND ("uid" IS NULL)
        THEN ("uid" IS NULL AND list_contains(_keys[1], 'uid')) ELSE false END
        OR CASE WHEN _keys[2] IS NOT NULL AND ("cmd_map" IS NULL)
        THEN ("cmd_map" IS NULL AND list_contains(_keys[2], 'cmd')) ELSE false END
        OR CASE WHEN "cmd_map" IS NULL THEN false ELSE coalesce(list_bool_or(list_transform(map_entries(TRY(json_transform("cmd_map", '"MAP(VARCHAR, VARCHAR)"'))), lambda e: coalesce(false, false))), false) END, true) AS _check FROM listed
), detailed AS (
    SELECT *,
    CASE WHEN _check THEN nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "uid" IS NULL THEN 'uid: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[3] IS NOT NULL AND "cmd_map" IS NULL THEN 'params.cmd: ' || '"' || left(_v[3], 60) || '"' || ' is not an object' END,
        CASE WHEN CASE WHEN "cmd_map" IS NULL THEN false ELSE coalesce(list_bool_or(list_transform(map_entries(TRY(json_transform("cmd_map", '"MAP(VARCHAR, VARCHAR)"'))), lambda e: coalesce(false, false))), false) END THEN 'params.cmd: an entry has a key or value of the wrong type' END), '') END AS _type_errors,
    CASE WHEN _check THEN nullif(TRY(to_json(map_from_entries(flatten([
        CASE WHEN len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(doc, '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['uid', 'params'], e.key)), lambda e: {'key': '' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'sub-type', 'cmd'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'sub-type', 'cmd'], e.key)), lambda e: {'key': 'params.' || e.key, 'value': e.value}), []) ELSE [] END])))::VARCHAR), '{}') END AS extra
    FROM (SELECT *, CASE WHEN _check THEN json_extract_string(doc, ['$.uid', '$.params.sub-type', '$.params.cmd']) END AS _v
          FROM checked)
)
SELECT _file, _row, _type_errors,
    {
        "uid": CAST(uid AS BIGINT),
        "reply_type": CAST('cmd-parsed' AS VARCHAR),
        "command_id": CAST(NULL AS VARCHAR),
        "command": CAST(command AS VARCHAR),
        "status": CAST(NULL AS BOOLEAN),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "extra": CAST(extra AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "command_replies",
    {
        "entries": "cmd_map",
        "uid": CAST(uid AS BIGINT),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "seq": CAST(seq AS BIGINT)} AS "io_snapshots"
FROM detailed

-- route cmd-parsed: child table io_snapshots
SELECT _file, _row,
    "uid",
    CAST(TRY_CAST(coalesce(json_extract_string(e.value, '$.tio'), e.key) AS INTEGER) AS INTEGER) AS "io",
    CAST(TRY_CAST(json_extract_string(e.value, '$.tlv') AS DOUBLE) AS DOUBLE) AS "level",
    CAST(TRY_CAST(json_extract_string(e.value, '$.tmx') AS TIMESTAMPTZ) AS TIMESTAMPTZ) AS "tmx",
    CAST(json_extract_string(e.value, '$.hid') AS VARCHAR) AS "record_id",
    "received_at",
    "seq"
FROM (
    SELECT r.*, {'key': j.key, 'value': CASE WHEN j.value::VARCHAR = 'null' THEN NULL WHEN NOT starts_with(j.value::VARCHAR, '"') THEN j.value::VARCHAR WHEN contains(j.value::VARCHAR, '\') THEN json_extract_string(j.value::VARCHAR, '$') ELSE trim(j.value::VARCHAR, '"') END} AS e, j.id AS _entry
    FROM (SELECT _file, _row, unnest("io_snapshots") FROM "cmd-parsed rows") AS r,
        json_each(r."entries") AS j
    WHERE r."entries" IS NOT NULL
)
ORDER BY _file, _row, _entry
